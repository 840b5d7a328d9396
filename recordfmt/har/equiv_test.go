package har

import (
	"fmt"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzMediaType checks mediaType against mime.ParseMediaType.
func FuzzMediaType(f *testing.F) {
	for _, s := range []string{"text/plain", "Text/HTML; charset=utf-8", "application/json;", "text", "text/", "/x", " a/b ", "a/b/c",
		"a/b; x=1; x=2", "a/b; x=\"1;2\"", "multipart/form-data; boundary=x", "é/x", "a b/c", "text/plain; charset"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		want, _, _ := mime.ParseMediaType(v)
		if got := mediaType(v); got != want {
			t.Fatalf("%q: mediaType %q, mime.ParseMediaType %q", v, got, want)
		}
	})
}

// FuzzSecret checks Secret and containsFold against their definitions
// (fold, strings.ToLower).
func FuzzSecret(f *testing.F) {
	for _, s := range []string{"Authorization", "X-Api-Key", "access_token", "PASS-word", "İpassword", "tökenß", "user", ""} {
		f.Add(s)
	}
	r := NewRedactor(append([]string{"İx", "ß"}, DefaultSecretFields...), nil)
	f.Fuzz(func(t *testing.T, name string) {
		want := false
		for _, s := range r.fields {
			want = want || strings.Contains(fold(name), s)
		}
		if got := r.Secret(name); got != want {
			t.Fatalf("Secret(%q) = %v, want %v", name, got, want)
		}
		for _, sub := range []string{"json", "x-www-form-urlencoded"} {
			if got, want := containsFold(name, sub), strings.Contains(strings.ToLower(name), sub); got != want {
				t.Fatalf("containsFold(%q, %q) = %v, want %v", name, sub, got, want)
			}
		}
	})
}

// TestFormatTime checks FormatTime against time.Format, in and across
// seconds and zones.
func TestFormatTime(t *testing.T) {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("odd", -(3*3600 + 1800)), time.FixedZone("east", 5*3600+45*60)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, ny)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	base := time.Date(2025, 3, 9, 6, 59, 58, 0, time.UTC) // a DST change in New York
	for i := range 20000 {
		tm := base.Add(time.Duration(rng.Int64N(int64(5 * time.Second))))
		if i%10 == 0 {
			tm = time.Unix(rng.Int64N(1<<34)-1<<33, rng.Int64N(1e9))
		}
		tm = tm.In(zones[rng.IntN(len(zones))])
		if got, want := FormatTime(tm), tm.Format(TimeFormat); got != want {
			t.Fatalf("FormatTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

// TestHeaderKinds checks the kinds a Redactor keeps per header name
// against working them out each time, past the number it keeps.
func TestHeaderKinds(t *testing.T) {
	r := NewRedactor(nil, []string{"X-Session"})
	names := []string{"Cookie", "cookie", "Set-Cookie", "LOCATION", "Content-Location", "Referer", "Authorization", "x-session", "X-Api-Token", "Accept", "User-Agent"}
	for i := range maxHeaderKinds + 10 {
		names = append(names, fmt.Sprintf("X-N%d", i))
	}
	for round := range 2 {
		for _, n := range names {
			want := hdrPlain
			switch c := http.CanonicalHeaderKey(n); {
			case c == "Cookie":
				want = hdrCookie
			case c == "Set-Cookie":
				want = hdrSetCookie
			case c == "Location" || c == "Content-Location" || c == "Referer":
				want = hdrURL
			case r.headers[c] || r.Secret(n):
				want = hdrSecret
			}
			if got := r.headerKind(n); got != want {
				t.Fatalf("round %d: kind of %q is %d, want %d", round, n, got, want)
			}
		}
	}
}
