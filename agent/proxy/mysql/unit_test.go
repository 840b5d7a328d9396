package mysql

import (
	"encoding/binary"
	"math"
	"net/url"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/onepam/onepam/recordfmt/querylog"
)

func TestBinaryValue(t *testing.T) {
	le64 := func(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
	cases := []struct {
		name  string
		typ   byte
		flags byte
		in    []byte
		want  any
	}{
		{"tiny signed", typeTiny, 0, []byte{0xfe}, int64(-2)},
		{"tiny unsigned", typeTiny, flagUnsigned, []byte{0xfe}, uint64(254)},
		{"short", typeShort, 0, []byte{0x00, 0x80}, int64(-32768)},
		{"year", typeYear, flagUnsigned, []byte{0xe8, 0x07}, uint64(2024)},
		{"int24", typeInt24, 0, []byte{0xff, 0xff, 0xff, 0xff}, int64(-1)},
		{"long unsigned", typeLong, flagUnsigned, []byte{0xff, 0xff, 0xff, 0xff}, uint64(math.MaxUint32)},
		{"longlong", typeLongLong, 0, le64(uint64(math.MaxUint64)), int64(-1)},
		{"longlong unsigned", typeLongLong, flagUnsigned, le64(math.MaxUint64), uint64(math.MaxUint64)},
		{"float", typeFloat, 0, binary.LittleEndian.AppendUint32(nil, math.Float32bits(1.1)), 1.1},
		{"double", typeDouble, 0, le64(math.Float64bits(-2.5)), -2.5},
		{"double NaN", typeDouble, 0, le64(math.Float64bits(math.NaN())), "NaN"},
		{"double +Inf", typeDouble, 0, le64(math.Float64bits(math.Inf(1))), "+Inf"},
		{"null type", typeNull, 0, nil, nil},
		{"decimal", typeNewDecimal, 0, append([]byte{6}, "-12.50"...), "-12.50"},
		{"varchar", typeVarString, 0, append([]byte{5}, "héllo"[:5]...), "héll"},
		{"blob", typeBlob, 0, []byte{3, 0, 0xff, 1}, `\x00ff01`},
		{"bit", typeBit, 0, []byte{1, 5}, `\x05`},
		{"date", typeDate, 0, []byte{4, 0xe8, 0x07, 2, 29}, "2024-02-29"},
		{"date zero", typeDate, 0, []byte{0}, "0000-00-00"},
		{"datetime", typeDateTime, 0, []byte{7, 0xe8, 0x07, 2, 29, 13, 14, 15}, "2024-02-29 13:14:15"},
		{"timestamp micro", typeTimestamp, 0, []byte{11, 0xe8, 0x07, 2, 29, 13, 14, 15, 0x40, 0xe2, 0x01, 0}, "2024-02-29 13:14:15.123456"},
		{"time", typeTime, 0, []byte{8, 0, 1, 0, 0, 0, 2, 3, 4}, "26:03:04"},
		{"time negative micro", typeTime, 0, []byte{12, 1, 0, 0, 0, 0, 2, 3, 4, 1, 0, 0, 0}, "-02:03:04.000001"},
		{"time zero", typeTime, 0, []byte{0}, "00:00:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := reader{b: c.in}
			got, err := binaryValue(&r, c.typ, c.flags)
			if c.name == "varchar" { // a rune cut by the length: still logged
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) || len(r.b) != 0 {
				t.Fatalf("got %#v (%v), rest %d, want %#v", got, err, len(r.b), c.want)
			}
		})
	}
	for _, bad := range []struct {
		name string
		typ  byte
		in   []byte
	}{
		{"truncated longlong", typeLongLong, []byte{1, 2}},
		{"bad date length", typeDateTime, []byte{5, 1, 2, 3, 4, 5}},
		{"string longer than packet", typeString, []byte{9, 'a'}},
		{"unknown type", 0x42, []byte{1}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			r := reader{b: bad.in}
			if _, err := binaryValue(&r, bad.typ, 0); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestLongValuesClipped(t *testing.T) {
	long := strings.Repeat("é", querylog.MaxParamLen)
	s := bytesValue([]byte(long))
	if len(s) > querylog.MaxParamLen || !strings.HasSuffix(s, "…[truncated "+strconv.Itoa(len(long))+" bytes]") {
		t.Errorf("long text: %d bytes, suffix %q", len(s), s[len(s)-30:])
	}
	bin := make([]byte, 10000)
	bin[0] = 0xff
	h := bytesValue(bin)
	if len(h) > querylog.MaxParamLen || !strings.HasPrefix(h, `\xff00`) || !strings.HasSuffix(h, "…[truncated 20002 bytes]") {
		t.Errorf("long binary: %d bytes %q", len(h), h[len(h)-30:])
	}
	if querylog.Param(h) != h || querylog.Param(s) != s {
		t.Errorf("the encoder would cut the values again")
	}
	st := clipText([]byte(strings.Repeat("x", querylog.MaxStatementLen+10)), querylog.MaxStatementLen)
	if querylog.Truncate(st, querylog.MaxStatementLen) != st {
		t.Errorf("the encoder would cut the statement again")
	}
}

func TestSplitAndLabel(t *testing.T) {
	q := "select 'a;b', \"c;\\\"d\", `e;f` -- x;y\n; /* ; */ select 2 # ;\n;call p(); ;"
	want := []string{"select 'a;b', \"c;\\\"d\", `e;f` -- x;y", "/* ; */ select 2 # ;", "call p()"}
	if got := splitStatements(q); !reflect.DeepEqual(got, want) {
		t.Fatalf("split %q", got)
	}
	cases := []struct {
		name    string
		query   string
		results []resultShape
		want    []string
	}{
		{"one result", "select 1; ", []resultShape{{set: true}}, []string{"select 1;"}},
		{"two statements", "select 1; insert into t values (1)", []resultShape{{set: true}, {}}, []string{"select 1", "insert into t values (1)"}},
		{"call results", "call p(1); select 2", []resultShape{{set: true}, {set: true}, {}, {set: true}}, []string{"call p(1)", "call p(1)", "call p(1)", "select 2"}},
		{"error ends early", "select 1; select x; select 3", []resultShape{{set: true}, {failed: true}}, []string{"select 1", "select x"}},
		{"compound statement", "create procedure p() begin select 1; select 2; end", []resultShape{{}}, []string{"create procedure p() begin select 1; select 2; end"}},
		{"mismatch", "begin not atomic select 1; select 2; end; select 3", []resultShape{{set: true}, {set: true}, {set: true}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := labelResults(c.query, c.results)
			if c.want == nil {
				c.want = make([]string, len(c.results))
				for i := range c.want {
					c.want[i] = c.query
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("labels %q, want %q", got, c.want)
			}
		})
	}
	for s, want := range map[string]string{"use shop": "shop", "USE `we``ird`;": "we`ird", "user()": "", "use": ""} {
		if got, _ := useStatement(s); got != want {
			t.Errorf("useStatement(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestParseOKSessionTrack(t *testing.T) {
	caps := capProtocol41 | capSessionTrack
	p := []byte{hdrOK, 3, 0}
	p = binary.LittleEndian.AppendUint16(p, statusAutocommit|statusSessionStateChange)
	p = append(p, 0, 0) // warnings
	p = append(p, 0)    // info ""
	state := appendLenencString([]byte{1}, appendLenencString(nil, []byte("shop")))
	p = appendLenencString(p, state)
	ok, err := parseOK(p, caps)
	if err != nil || ok.affected != 3 || ok.schema != "shop" {
		t.Fatalf("%+v %v", ok, err)
	}
	if _, err := parseOK([]byte{hdrOK, 0xfc, 1}, caps); err == nil {
		t.Fatal("truncated OK parsed")
	}
}

func TestParseTargetConfig(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeTestPKI(dir)
	cases := []struct {
		name, yaml, wantErr string
		check               func(*TargetConfig) bool
	}{
		{"full", `
name: shop
type: db
address: 10.0.0.7:3306
labels: {env: prod}
description: the shop
user: app
password: s3cret
database: shop
users: {report: {password: r3}}
tls: verify-full
ca_file: ` + ca, "", func(c *TargetConfig) bool {
			return c.User == "app" && c.Password == "s3cret" && c.Users["report"].Password == "r3" && c.TLS == TLSVerifyFull && c.CAFile == ca
		}},
		{"defaults", "name: x\nuser: app\n", "", func(c *TargetConfig) bool { return c.TLS == TLSDisable }},
		{"unknown field", "name: x\nusr: app\n", `unknown field "usr"`, nil},
		{"bad tls", "tls: maybe\n", "tls \"maybe\"", nil},
		{"ca without verify-full", "tls: require\nca_file: " + ca + "\n", "verify-full", nil},
		{"missing ca file", "tls: verify-full\nca_file: /nonexistent.pem\n", "ca_file", nil},
		{"password without user", "password: x\n", "password without user", nil},
		{"cert without key", "tls: require\ncert_file: " + ca + "\n", "together", nil},
		{"not a mapping", "- a\n", "mapping", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(c.yaml), &n); err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseTargetConfig(&n)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !c.check(cfg) {
				t.Fatalf("%v %v", cfg, err)
			}
			if strings.Contains(cfg.String(), "s3cret") {
				t.Errorf("String shows the password: %s", cfg)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	cases := []struct {
		url, addr, wantErr string
		check              func(*TargetConfig) bool
	}{
		{"mysql://app:p%40ss@db.internal/shop?tls=require", "db.internal:3306", "", func(c *TargetConfig) bool {
			return c.User == "app" && c.Password == "p@ss" && c.Database == "shop" && c.TLS == TLSRequire
		}},
		{"mariadb://root@127.0.0.1:3307", "127.0.0.1:3307", "", func(c *TargetConfig) bool { return c.User == "root" && c.TLS == TLSDisable }},
		{"mysql://[::1]:3306/", "[::1]:3306", "", func(c *TargetConfig) bool { return c.User == "" }},
		{"mysql://app@h/db?sslmode=x", "", `unknown option "sslmode"`, nil},
		{"mysql://app@h/db?tls=yes", "", "tls", nil},
		{"postgres://h/db", "", "scheme", nil},
		{"mysql:///db", "", "no host", nil},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			addr, cfg, err := ParseURL(u)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || addr != c.addr || !c.check(cfg) {
				t.Fatalf("%q %+v %v", addr, cfg, err)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	c := &TargetConfig{User: "app", Password: "a", Users: map[string]UserConfig{"report": {Password: "r"}}}
	cases := []struct{ login, client, user, pw, err string }{
		{"", "report", "report", "r", ""},
		{"", "app", "app", "a", ""},
		{"", "root", "app", "a", ""},
		{"report", "root", "report", "r", ""},
		{"other", "", "", "", "no credentials"},
	}
	for _, x := range cases {
		u, pw, err := c.credentials(x.login, x.client)
		if x.err != "" {
			if err == nil || !strings.Contains(err.Error(), x.err) {
				t.Errorf("%+v: %v", x, err)
			}
			continue
		}
		if err != nil || u != x.user || pw != x.pw {
			t.Errorf("%+v: %q %q %v", x, u, pw, err)
		}
	}
	none := &TargetConfig{}
	if _, _, err := none.credentials("", "someone"); err == nil {
		t.Error("no credentials configured, yet a user")
	}
}
