package har

import (
	"mime"
	"strings"
	"testing"
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
