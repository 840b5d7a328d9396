package postgres

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"select 1", []string{"select 1"}},
		{"  select 1;  ", []string{"select 1"}},
		{"select 1; select 2;", []string{"select 1", "select 2"}},
		{"select ';'; select \"a;b\" from t", []string{"select ';'", `select "a;b" from t`}},
		{"select 'it''s;'; select 2", []string{"select 'it''s;'", "select 2"}},
		{`select E'\';'; select 2`, []string{`select E'\';'`, "select 2"}},
		{"select $$a;b$$; select $f$ ; $$ ; $f$", []string{"select $$a;b$$", "select $f$ ; $$ ; $f$"}},
		{"select $1; select 2", []string{"select $1", "select 2"}},
		{"select 1 -- c;\n; /* x; /* y; */ ; */ select 2", []string{"select 1 -- c;", "/* x; /* y; */ ; */ select 2"}},
		{";;  ; -- only a comment;\n", nil},
		{"", nil},
		{"select 'unterminated; select 2", []string{"select 'unterminated; select 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := splitStatements(tt.in)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSCRAMVector checks the SCRAM client against RFC 7677's example.
func TestSCRAMVector(t *testing.T) {
	c := &scramClient{password: "pencil", user: "user", clientNonce: "rOprNGfwEbeRWgbNEkqO"}
	if got := string(c.clientFirst()); got != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first %q", got)
	}
	final, err := c.clientFinal([]byte("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="; string(final) != want {
		t.Fatalf("client-final\n got %s\nwant %s", final, want)
	}
	if err := c.verifyServerFinal([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err != nil {
		t.Fatal(err)
	}
	if err := c.verifyServerFinal([]byte("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); err == nil {
		t.Fatal("a wrong server signature was accepted")
	}
}

func TestSCRAMBadServer(t *testing.T) {
	tests := []struct{ name, first, want string }{
		{"foreign nonce", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
		{"same nonce", "r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"},
		{"bad salt", "r=abcX,s=***,i=4096", "salt"},
		{"huge iterations", "r=abcX,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", "iteration"},
		{"no iterations", "r=abcX,s=W22ZaJ0SNY7soEsUEjb6gQ==", "iteration"},
		{"server error", "e=other-error", "other-error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scramClient{password: "p", clientNonce: "abc"}
			c.clientFirst()
			if _, err := c.clientFinal([]byte(tt.first)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMD5Password(t *testing.T) {
	// md5(md5("secret" + "alice") + salt), computed with PostgreSQL's
	// formula by hand: md5("secretalice") = ...
	got := md5Password("alice", "secret", [4]byte{1, 2, 3, 4})
	inner := md5Hex([]byte("secretalice"))
	if want := "md5" + md5Hex(append([]byte(inner), 1, 2, 3, 4)); got != want || len(got) != 35 {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestTagRows(t *testing.T) {
	tests := []struct {
		tag  string
		data int64
		want int64
	}{
		{"SELECT 5", 5, 5}, {"INSERT 0 3", 0, 3}, {"UPDATE 0", 0, 0}, {"COPY 10", 0, 10},
		{"CREATE TABLE", 0, -1}, {"SHOW", 1, 1}, {"", 0, -1}, {"FETCH 2", 2, 2},
	}
	for _, tt := range tests {
		if got := tagRows(tt.tag, tt.data); got != tt.want {
			t.Errorf("tagRows(%q, %d) = %d, want %d", tt.tag, tt.data, got, tt.want)
		}
	}
}

func TestDecodeParam(t *testing.T) {
	be := func(bits int, v uint64) []byte {
		b := make([]byte, 8)
		binary.BigEndian.PutUint64(b, v)
		return b[8-bits/8:]
	}
	pc := &pgConn{}
	tests := []struct {
		name   string
		oid    uint32
		format uint16
		v      []byte
		want   any
	}{
		{"null", oidInt4, 1, nil, nil},
		{"text format", oidInt4, 0, []byte("42"), "42"},
		{"int2", oidInt2, 1, be(16, uint64(0xffff)), int64(-1)},
		{"int4", oidInt4, 1, be(32, 7), int64(7)},
		{"int8", oidInt8, 1, be(64, math.MaxUint64), int64(-1)},
		{"float4", oidFloat4, 1, be(32, uint64(math.Float32bits(1.5))), 1.5},
		{"float8", oidFloat8, 1, be(64, math.Float64bits(-2.25)), -2.25},
		{"bool", oidBool, 1, []byte{1}, true},
		{"bytea", oidBytea, 1, []byte{0, 0xff}, `\x00ff`},
		{"date", oidDate, 1, be(32, 1), "2000-01-02"},
		{"timestamp", oidTimestamp, 1, be(64, 1_500_000), "2000-01-01T00:00:01.5"},
		{"timestamptz infinity", oidTimestamptz, 1, be(64, math.MaxInt64), "infinity"},
		{"timestamptz before 2000", oidTimestamptz, 1, be(64, uint64(1<<64-1_000_000)), "1999-12-31T23:59:59Z"},
		{"numeric via pgtype", 1700, 1, []byte{0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88}, "12.50"},
		{"wrong length int4", oidInt4, 1, []byte{1, 2}, `\x0102`},
		{"unknown oid", 999999, 1, []byte{0xab}, `\xab`},
		{"garbage numeric", 1700, 1, []byte{0xff}, `\xff`},
		{"long text cut", oidText, 1, []byte(strings.Repeat("a", 5000)), strings.Repeat("a", 4096) + "…[truncated 5000 bytes]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pc.decodeParam(tt.oid, tt.format, tt.v); got != tt.want {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestParseTargetConfig(t *testing.T) {
	tests := []struct {
		name, yaml, err string
		check           func(*TargetConfig) bool
	}{
		{"full", `
name: orders
type: db
address: 10.0.0.7:5432
labels: {env: prod}
description: orders database
user: app
password: s3cret
users:
  report: {password: r3p}
database: orders
sslmode: verify-full
ca_file: /etc/ca.pem
server_name: db.internal
`, "", func(c *TargetConfig) bool {
			return c.User == "app" && c.Password == "s3cret" && c.Users["report"].Password == "r3p" && c.Database == "orders" && c.SSLMode == SSLVerifyFull && c.CAFile == "/etc/ca.pem"
		}},
		{"users only", "users: {a: {password: x}}", "", func(c *TargetConfig) bool { return c.sslMode() == SSLDisable }},
		{"no credentials", "name: x\naddress: y", "no database credentials", nil},
		{"typo", "user: a\npasword: x", `unknown setting "pasword"`, nil},
		{"bad sslmode", "user: a\nsslmode: prefer", `sslmode "prefer"`, nil},
		{"ca without verify", "user: a\nsslmode: require\nca_file: x", "ca_file is only used", nil},
		{"cert without key", "user: a\nsslmode: require\ncert_file: x", "together", nil},
		{"password without user", "password: x\nusers: {a: {}}", "password without user", nil},
		{"not a mapping", "- a", "mapping", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var node yaml.Node
			if err := yaml.Unmarshal([]byte(tt.yaml), &node); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseTargetConfig(&node)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("cfg = %#v, err = %v", cfg, err)
			}
			if s := fmt.Sprintf("%v %#v %s", cfg, cfg, cfg); strings.Contains(s, "s3cret") || strings.Contains(s, "r3p") {
				t.Fatalf("password printed: %s", s)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, addr, err string
		check          func(*TargetConfig) bool
	}{
		{"postgres://app:s3cret@db.internal/orders?sslmode=require", "db.internal:5432", "", func(c *TargetConfig) bool {
			return c.User == "app" && c.Password == "s3cret" && c.Database == "orders" && c.SSLMode == SSLRequire
		}},
		{"postgresql://u@[::1]:6543/?sslmode=verify-full&sslrootcert=/ca.pem", "[::1]:6543", "", func(c *TargetConfig) bool {
			return c.CAFile == "/ca.pem" && c.Database == ""
		}},
		{"postgres://u:p%40ss@h/db", "h:5432", "", func(c *TargetConfig) bool { return c.Password == "p@ss" }},
		{"mysql://u@h/db", "", "scheme", nil},
		{"postgres:///db", "", "no host", nil},
		{"postgres://h/db", "", "no database credentials", nil},
		{"postgres://u@h/db?foo=1", "", `unknown option "foo"`, nil},
		{"postgres://u@h/db?sslmode=allow", "", `sslmode "allow"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			addr, cfg, err := ParseURL(u)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || addr != tt.addr || !tt.check(cfg) {
				t.Fatalf("%s %#v %v", addr, cfg, err)
			}
		})
	}
}
