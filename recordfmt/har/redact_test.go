package har

import (
	"errors"
	"strings"
	"testing"
)

func errorsIsMalformed(err error) bool { return errors.Is(err, ErrMalformed) }

func TestSecretNames(t *testing.T) {
	r := NewRedactor(nil, nil)
	for name, want := range map[string]bool{
		"password": true, "new_password": true, "PassWD": true, "client-secret": true, "x-api-key": true,
		"apiKey": true, "refresh_token": true, "csrfToken": true, "user": false, "q": false, "passport": false,
	} {
		if got := r.Secret(name); got != want {
			t.Errorf("Secret(%q) = %v, want %v", name, got, want)
		}
	}
	custom := NewRedactor([]string{"pin"}, []string{"X-Custom"})
	if !custom.Secret("card_pin") || custom.Secret("password") {
		t.Error("a configured list replaces the default fields")
	}
	if custom.header("X-Custom", "v") != Redacted || custom.header("Authorization", "v") != Redacted {
		t.Error("configured and default headers are redacted")
	}
}

func TestRedactValues(t *testing.T) {
	r := NewRedactor(nil, nil)
	for _, tc := range []struct{ name, got, want string }{
		{"url", r.URL("http://h/p?a=1&token=x&b=2#f"), "http://h/p?a=1&token=%5BREDACTED%5D&b=2#f"},
		{"url no query", r.URL("http://h/p"), "http://h/p"},
		{"escaped name", r.URL("http://h/?pass%77ord=x"), "http://h/?pass%77ord=%5BREDACTED%5D"},
		{"cookie", r.header("Cookie", "a=1; b=2"), "a=[REDACTED]; b=[REDACTED]"},
		{"set-cookie", r.header("Set-Cookie", "sid=abc; Path=/; HttpOnly"), "sid=[REDACTED]; Path=/; HttpOnly"},
		{"auth", r.header("authorization", "Basic eDp5"), Redacted},
		{"plain header", r.header("Accept", "*/*"), "*/*"},
		{"form", r.Body("application/x-www-form-urlencoded", "u=a&passwd=b"), "u=a&passwd=%5BREDACTED%5D"},
		{"json", r.Body("application/json", `{"a":[{"token":"t"}],"b":1}`), `{"a":[{"token":"[REDACTED]"}],"b":1}`},
		{"json unchanged", r.Body("application/json", `{"b": 1}`), `{"b": 1}`},
		{"json cut", r.Body("application/json", `{"user":"a","password":"hun`), `{"user":"a","password":"[REDACTED]"`},
		{"json cut number", r.JSON(`[{"secret": 12345, "x": "y"`), `[{"secret":"[REDACTED]", "x": "y"`},
		{"text", r.Body("text/plain", "password=x"), "password=x"},
		{"json key with an escape", r.JSON(`{"\u0070assword":"p"}`), `{"password":"[REDACTED]"}`},
		{"json key folded", r.JSON(`{"Pass-Word":"p","x":1}`), `{"Pass-Word":"[REDACTED]","x":1}`},
		{"json secret word in a value only", r.JSON(`{"note": "my token"}`), `{"note": "my token"}`},
		{"json without a secret word", r.JSON(`{"a": [1, 2, {"b": "c"}]}`), `{"a": [1, 2, {"b": "c"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}

func TestContentEncoding(t *testing.T) {
	for _, tc := range []struct {
		name, mime, body string
		limit            int
		enc, comment     string
	}{
		{"text", "text/html", "<p>hi</p>", 100, "", ""},
		{"binary", "application/octet-stream", "\x00\x01\x02", 100, "base64", ""},
		{"utf8 without type", "", "plain words", 100, "", ""},
		{"cut inside a rune", "text/plain", "héllo", 2, "", "body truncated: 2 of 6 bytes recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewContent(tc.mime, capture(tc.limit, tc.body))
			if c.Encoding != tc.enc || c.Comment != tc.comment || c.Size != int64(len(tc.body)) {
				t.Fatalf("got %+v", c)
			}
			if c.Encoding == "" && strings.ContainsRune(c.Text, 0) {
				t.Fatal("text holds NUL")
			}
		})
	}
}
