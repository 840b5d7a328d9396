package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeAppsSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control.yaml")
	if err := os.WriteFile(file, []byte("apps_domain: apps.example.com\napp_idle_timeout: 5m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		domain  string
		idle    time.Duration
		wantErr string
	}{
		{"defaults", nil, nil, "localhost", 15 * time.Minute, ""},
		{"file", []string{"--config", file}, nil, "apps.example.com", 5 * time.Minute, ""},
		{"env over file", []string{"--config", file}, map[string]string{"ONEPAM_APPS_DOMAIN": "pam.test", "ONEPAM_APP_IDLE_TIMEOUT": "90s"}, "pam.test", 90 * time.Second, ""},
		{"flag over env", []string{"--apps-domain", "flag.test", "--app-idle-timeout", "1h"}, map[string]string{"ONEPAM_APPS_DOMAIN": "pam.test"}, "flag.test", time.Hour, ""},
		{"zero idle timeout refused", []string{"--app-idle-timeout", "0s"}, nil, "", 0, "app idle timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.AppsDomain != tc.domain || got.AppIdleTimeout != tc.idle {
				t.Fatalf("apps domain %q, idle %s; want %q, %s", got.AppsDomain, got.AppIdleTimeout, tc.domain, tc.idle)
			}
		})
	}
}
