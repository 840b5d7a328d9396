package cli

import (
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/cli/iostreams"
)

func TestReadNewPassword(t *testing.T) {
	tests := []struct {
		name, in string
		stdin    bool
		want     string
		err      string
	}{
		{"stdin line", "s3cret pw\n", true, "s3cret pw", ""},
		{"stdin CRLF", "s3cret pw\r\n", true, "s3cret pw", ""},
		{"stdin without newline", "s3cret", true, "s3cret", ""},
		{"stdin empty", "\n", true, "", "empty password"},
		{"stdin too long", strings.Repeat("x", maxPasswordInput+1), true, "", "too long"},
		{"not a terminal without --stdin", "pw\n", false, "", "--stdin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ios, in, _, _ := iostreams.Test()
			in.WriteString(tc.in)
			got, err := readNewPassword(&UsersPasswdOptions{IO: ios, Stdin: tc.stdin})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
