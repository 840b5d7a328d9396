package jsonesc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestAppendASCIIMatchesEncodingJSON checks every byte that needs an
// escape against encoding/json's output (without HTML escaping) for the
// one-byte string.
func TestAppendASCIIMatchesEncodingJSON(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		b := byte(c)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(string([]byte{b})); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if !NeedsEscape(b) {
			if string(want) != `"`+string([]byte{b})+`"` {
				t.Errorf("byte %#x: encoding/json escapes it (%s), NeedsEscape says no", b, want)
			}
			continue
		}
		got := `"` + string(AppendASCII(nil, b)) + `"`
		if got != string(want) {
			t.Errorf("byte %#x: got %s, encoding/json writes %s", b, got, want)
		}
	}
}
