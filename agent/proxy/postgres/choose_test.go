package postgres

import "testing"

func TestChooseLogin(t *testing.T) {
	cfg := &TargetConfig{User: "postgres", Users: map[string]UserConfig{"app": {Password: "pw"}}}
	noDefault := &TargetConfig{Users: map[string]UserConfig{"app": {Password: "pw"}}}
	for _, tc := range []struct {
		name                                string
		cfg                                 *TargetConfig
		openLogin, openDB, clientU, clientD string
		wantU, wantD                        string
	}{
		{"control's login and database win", cfg, "app", "orders", "root", "root", "app", "orders"},
		{"configured client user kept", cfg, "", "", "app", "app", "app", "app"},
		{"default user named by the client", cfg, "", "", "postgres", "shop", "postgres", "shop"},
		{"unknown client user: default user, libpq's default database dropped", cfg, "", "", "root", "root", "postgres", ""},
		{"unknown client user: an explicit database kept", cfg, "", "", "root", "shop", "postgres", "shop"},
		{"no client user", cfg, "", "", "", "", "postgres", ""},
		{"no default: the unknown user stays, for the error", noDefault, "", "", "root", "root", "root", "root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, d := tc.cfg.chooseLogin(tc.openLogin, tc.openDB, tc.clientU, tc.clientD)
			if u != tc.wantU || d != tc.wantD {
				t.Fatalf("chooseLogin = %q, %q; want %q, %q", u, d, tc.wantU, tc.wantD)
			}
		})
	}
}
