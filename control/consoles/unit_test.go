package consoles

import (
	"errors"
	"testing"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/pkg/api"
)

func TestParseTermSize(t *testing.T) {
	tests := []struct {
		name       string
		q          map[string][]string
		cols, rows int
		err        bool
	}{
		{"default", nil, 80, 24, false},
		{"given", map[string][]string{"cols": {"132"}, "rows": {"43"}}, 132, 43, false},
		{"zero", map[string][]string{"cols": {"0"}}, 0, 0, true},
		{"huge", map[string][]string{"rows": {"100000"}}, 0, 0, true},
		{"text", map[string][]string{"rows": {"tall"}}, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, r, err := parseTermSize(tc.q)
			if (err != nil) != tc.err || (!tc.err && (c != tc.cols || r != tc.rows)) {
				t.Fatalf("got %d×%d, %v", c, r, err)
			}
			if err != nil && api.CodeOf(err) != api.CodeInvalid {
				t.Fatalf("error code %s", api.CodeOf(err))
			}
		})
	}
}

func TestSafeBase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"notes.txt", "notes.txt"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\me\report.pdf`, "report.pdf"},
		{"..", ""},
		{"/", ""},
		{"a\x00b", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := safeBase(tc.in)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Fatalf("safeBase(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}

func TestDBProtocol(t *testing.T) {
	tests := []struct{ protocol, address, want string }{
		{"postgres", "db:3306", "postgres"},
		{"mysql", "db:5432", "mysql"},
		{"mariadb", "", "mysql"},
		{"", "db:3306", "mysql"},
		{"", "db:5432", "postgres"},
		{"oracle", "db:1521", ""},
	}
	for _, tc := range tests {
		t.Run(tc.protocol+"/"+tc.address, func(t *testing.T) {
			got, err := dbProtocol(tc.protocol, tc.address)
			if got != tc.want || (tc.want == "") != (err != nil) {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestCloseCodeAndReason(t *testing.T) {
	if got := closeCode(api.Errorf(api.CodeForbidden, "no")); got != websocket.StatusCode(4403) {
		t.Fatalf("forbidden → %d", got)
	}
	if got := closeCode(errors.New("boom")); got != websocket.StatusCode(4500) {
		t.Fatalf("internal → %d", got)
	}
	long := closeReason(string(make([]byte, 300)))
	if len(long) > 123 {
		t.Fatalf("reason of %d bytes", len(long))
	}
}
