package dbcred

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTLSConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		tls        TLS
		addr       string
		wantErr    string
		serverName string
		insecure   bool
	}{
		{name: "require", tls: TLS{}, addr: "db.internal:5432", insecure: true},
		{name: "verify-full takes the address host", tls: TLS{Verify: true}, addr: "db.internal:5432", serverName: "db.internal"},
		{name: "verify-full with server_name", tls: TLS{Verify: true, ServerName: "db.example"}, addr: "10.0.0.7:3306", serverName: "db.example"},
		{name: "address without port", tls: TLS{Verify: true}, addr: "db.internal", serverName: "db.internal"},
		{name: "ca_file missing", tls: TLS{Verify: true, CAFile: filepath.Join(dir, "none.pem")}, addr: "h:1", wantErr: "ca_file: "},
		{name: "ca_file not PEM", tls: TLS{Verify: true, CAFile: notPEM}, addr: "h:1", wantErr: "no PEM certificates"},
		{name: "client certificate missing", tls: TLS{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, addr: "h:1", wantErr: "client certificate: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.tls.Config(tt.addr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.InsecureSkipVerify != tt.insecure || cfg.ServerName != tt.serverName {
				t.Fatalf("InsecureSkipVerify %t ServerName %q, want %t %q", cfg.InsecureSkipVerify, cfg.ServerName, tt.insecure, tt.serverName)
			}
		})
	}
}

func TestNames(t *testing.T) {
	got := strings.Join(Names(map[string]int{"b": 1, "a": 2, "c": 3}), ",")
	if got != "a,b,c" {
		t.Fatalf("Names = %q", got)
	}
	if n := Names(map[string]int(nil)); len(n) != 0 {
		t.Fatalf("Names(nil) = %v", n)
	}
}
