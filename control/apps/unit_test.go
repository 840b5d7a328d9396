package apps

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAppName(t *testing.T) {
	for _, tc := range []struct {
		host, domain, want string
		ok                 bool
	}{
		{"wiki.localhost:7443", "localhost", "wiki", true},
		{"WIKI.LocalHost.", "localhost", "wiki", true},
		{"demo-web.apps.example.com", "apps.example.com", "demo-web", true},
		{"localhost:7443", "localhost", "", false},
		{"127.0.0.1:7443", "localhost", "", false},
		{"a.b.localhost", "localhost", "", false},
		{"-x.localhost", "localhost", "", false},
		{"x_y.localhost", "localhost", "", false},
		{"wiki.localhost.evil.com", "localhost", "", false},
		{"wikilocalhost", "localhost", "", false},
		{"[::1]:7443", "localhost", "", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			got, ok := appName(tc.host, tc.domain)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("appName(%q, %q) = %q, %v; want %q, %v", tc.host, tc.domain, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"localhost", "localhost", false},
		{" Apps.Example.COM. ", "apps.example.com", false},
		{"", "", true},
		{"*.example.com", "", true},
		{"example.com:443", "", true},
		{"exa mple.com", "", true},
		{"a..b", "", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeDomain(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Fatalf("NormalizeDomain(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
	if got := CertNames("Apps.Example.com"); strings.Join(got, ",") != "apps.example.com,*.apps.example.com" {
		t.Fatalf("CertNames = %v", got)
	}
}

func TestState(t *testing.T) {
	nonce, err := randomToken()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, value, back string
		ok                bool
	}{
		{"path", nonce + ".L3g_eT0x", "/x?y=1", true},
		{"root", nonce + ".Lw", "/", true},
		{"scheme-relative path refused", nonce + ".Ly9ldmlsLmV4YW1wbGU", "", false}, // "//evil.example"
		{"absolute URL refused", nonce + ".aHR0cHM6Ly9ldmls", "", false},            // "https://evil"
		{"short nonce", "abc.Lw", "", false},
		{"no path", nonce, "", false},
		{"bad base64", nonce + ".!!", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, back, ok := parseState(tc.value)
			if ok != tc.ok || back != tc.back || (ok && n != nonce) {
				t.Fatalf("parseState(%q) = %q, %q, %v; want %q, %v", tc.value, n, back, ok, tc.back, tc.ok)
			}
		})
	}
}

func TestSafePath(t *testing.T) {
	for p, want := range map[string]bool{"/": true, "/a/b?c=d": true, "//evil": false, "/\\evil": false, "http://x": false, "": false, "/a\r\nX: y": false} {
		if got := safePath(p); got != want {
			t.Errorf("safePath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestDropCookies(t *testing.T) {
	ours := []string{"onepam_app", "onepam_app_state"}
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"only ours", []string{"onepam_app=secret"}, ""},
		{"mixed, others byte for byte", []string{`sid=abc; onepam_app=secret; theme="dark blue"`}, `sid=abc; theme="dark blue"`},
		{"several headers", []string{"a=1", "onepam_app_state=x; b=2"}, "a=1; b=2"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.in {
				h.Add("Cookie", v)
			}
			dropCookies(h, ours)
			if got := h.Get("Cookie"); got != tc.want || len(h.Values("Cookie")) > 1 {
				t.Fatalf("Cookie = %q (%d headers), want %q", got, len(h.Values("Cookie")), tc.want)
			}
		})
	}
	h := http.Header{}
	h.Add("Set-Cookie", "onepam_app=stolen; Path=/")
	h.Add("Set-Cookie", "sid=1; Path=/; HttpOnly")
	dropSetCookies(h, ours)
	if got := h.Values("Set-Cookie"); len(got) != 1 || got[0] != "sid=1; Path=/; HttpOnly" {
		t.Fatalf("Set-Cookie after drop = %q", got)
	}
}

func TestIsNavigation(t *testing.T) {
	for _, tc := range []struct {
		method, mode string
		want         bool
	}{
		{"GET", "", true}, {"GET", "navigate", true}, {"HEAD", "", true},
		{"GET", "cors", false}, {"GET", "no-cors", false}, {"POST", "", false}, {"POST", "navigate", false},
	} {
		r := httptest.NewRequest(tc.method, "https://x.localhost/", nil)
		if tc.mode != "" {
			r.Header.Set("Sec-Fetch-Mode", tc.mode)
		}
		if got := isNavigation(r); got != tc.want {
			t.Errorf("%s with Sec-Fetch-Mode %q: isNavigation = %v, want %v", tc.method, tc.mode, got, tc.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, host string
		want         bool
	}{
		{"https://web.localhost:7443", "web.localhost:7443", true},
		{"https://WEB.localhost:7443", "web.localhost:7443", true},
		{"https://web.example.com", "web.example.com:443", true},
		{"https://web.example.com:443", "web.example.com", true},
		{"http://web.localhost:7443", "web.localhost:7443", false},
		{"https://evil.localhost:7443", "web.localhost:7443", false},
		{"https://web.localhost:7444", "web.localhost:7443", false},
		{"null", "web.localhost:7443", false},
		{"", "web.localhost:7443", false},
	} {
		if got := sameOrigin(tc.origin, tc.host); got != tc.want {
			t.Errorf("sameOrigin(%q, %q) = %v, want %v", tc.origin, tc.host, got, tc.want)
		}
	}
}
