package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeStoreSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control.yaml")
	if err := os.WriteFile(file, []byte("store: postgres://file@db:5432/onepam\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"default: sqlite in the data directory", nil, nil, "", ""},
		{"flag", []string{"--store", "postgres://flag@db:5432/onepam?sslmode=disable"}, nil, "postgres://flag@db:5432/onepam?sslmode=disable", ""},
		{"postgresql scheme", []string{"--store", "postgresql://db/onepam"}, nil, "postgresql://db/onepam", ""},
		{"env", nil, map[string]string{"ONEPAM_STORE": "postgres://env@db/onepam"}, "postgres://env@db/onepam", ""},
		{"file", []string{"--config", file}, nil, "postgres://file@db:5432/onepam", ""},
		{"env over file", []string{"--config", file}, map[string]string{"ONEPAM_STORE": "postgres://env@db/onepam"}, "postgres://env@db/onepam", ""},
		{"flag over env", []string{"--store", "postgres://flag@db/onepam"}, map[string]string{"ONEPAM_STORE": "postgres://env@db/onepam"}, "postgres://flag@db/onepam", ""},
		{"not a postgres URL", []string{"--store", "mysql://db/onepam"}, nil, "", "want a postgres:// URL"},
		{"a file path", []string{"--store", "/var/lib/onepam/onepam.db"}, nil, "", "want a postgres:// URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Store != tc.want {
				t.Fatalf("store %q, want %q", got.Store, tc.want)
			}
		})
	}
}
