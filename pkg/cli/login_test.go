package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/config"
	"github.com/onepam/onepam/pkg/client/clienttest"
)

func TestLogin(t *testing.T) {
	other := clienttest.NewServer(t, nil)
	cases := []struct {
		name    string
		pin     func(e *testEnv) string
		code    int
		stderr  string
		savedOK bool
	}{
		{"trust on first use", func(*testEnv) string { return "" }, cmdutil.ExitOK, "trusting control's CA sha256:", true},
		{"pinned", func(e *testEnv) string { return e.srv.CAPin }, cmdutil.ExitOK, "", true},
		{"wrong pin", func(*testEnv) string { return other.CAPin }, cmdutil.ExitUnreachable, "does not chain to the pinned CA", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			path := e.env["ONEPAM_CONFIG"]
			e.env = map[string]string{"ONEPAM_CONFIG": path} // only the file from now on
			args := []string{"login", "--control", e.srv.URL, "--token", "opt_admin"}
			if p := tc.pin(e); p != "" {
				args = append(args, "--ca-pin", p)
			}
			code := e.run(t, args...)
			if code != tc.code || !strings.Contains(e.errOut.String(), tc.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, e.errOut, tc.stderr)
			}
			if !tc.savedOK {
				if _, err := os.Stat(path); !os.IsNotExist(err) {
					t.Fatalf("config written after a failed login: %v", err)
				}
				return
			}
			if e.out.String() != "logged in to "+e.srv.URL+" as alice (admin)\n" {
				t.Fatalf("stdout %q", e.out)
			}
			st, err := os.Stat(path)
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("config file: %v %v", st, err)
			}
			saved, err := config.Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if saved.Control != e.srv.URL || saved.Token != "opt_admin" || saved.CAPin != e.srv.CAPin || saved.CAPEM != string(e.srv.CAPEM) {
				t.Fatalf("saved %+v", saved)
			}
			// Later commands use the saved CA.
			if code := e.run(t, "whoami", "-o", "json"); code != 0 || !strings.Contains(e.out.String(), `"user": "alice"`) {
				t.Fatalf("whoami after login: exit %d %s %s", code, e.out, e.errOut)
			}
			if code := e.run(t, "logout"); code != 0 {
				t.Fatalf("logout: exit %d", code)
			}
			if code := e.run(t, "whoami"); code != cmdutil.ExitAuth {
				t.Fatalf("whoami after logout: exit %d", code)
			}
		})
	}
}

func TestLoginUsage(t *testing.T) {
	e := newTestEnv(t)
	e.env = map[string]string{"ONEPAM_CONFIG": e.env["ONEPAM_CONFIG"]}
	if code := e.run(t, "login", "--token", "x"); code != cmdutil.ExitUsage {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, e.errOut.String(), "login needs --control URL and --token TOKEN")
}

func TestPolicyFile(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		rules   int
		wantErr string
	}{
		{"yaml", "rules:\n  - subject: role:user\n    types: [tcp]\n    labels: {env: dev}\n    logins: ['*']\n", 1, ""},
		{"json", `{"rules":[{"subject":"user:bob","resources":["pg-*"]},{"subject":"role:admin"}]}`, 2, ""},
		{"empty", "", 0, ""},
		{"bad subject", "rules:\n  - subject: team:x\n", 0, "want role:ROLE or user:NAME"},
		{"bad type", "rules:\n  - subject: role:user\n    types: [ftp]\n", 0, `unknown session type "ftp"`},
		{"unknown field", "rules:\n  - subject: role:user\n    resource: x\n", 0, "field resource not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pf, err := ParsePolicyFile([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(pf.Rules) != tc.rules {
				t.Fatalf("rules %d, err %v", len(pf.Rules), err)
			}
		})
	}
}
