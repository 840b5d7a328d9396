package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzDecode checks that the decoder never panics, that every error wraps
// ErrMalformed, and that what it accepts exports to a JSON document whose
// entries decode back to the same entries.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"_onepam_har":1,"creator":{"name":"onepam","version":"x"},"started":"2025-03-01T12:00:00.000Z"}` + "\n" +
		`{"startedDateTime":"2025-03-01T12:00:00.000Z","time":1,"request":{"method":"GET","url":"http://a/?x=1"},"response":{"status":200,"content":{"size":2,"mimeType":"text/plain","text":"hi"}},"timings":{"send":0,"wait":1,"receive":0},"_conn":1,"_t":0}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, entries, err := ReadAll(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		var out bytes.Buffer
		if err := Export(&out, bytes.NewReader(data)); err != nil {
			t.Fatalf("export of a recording that decodes: %v", err)
		}
		var doc struct {
			Log struct {
				Entries []json.RawMessage `json:"entries"`
			} `json:"log"`
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("export is not JSON: %v\n%s", err, out.Bytes())
		}
		if len(doc.Log.Entries) != len(entries) {
			t.Fatalf("export has %d entries, decoded %d", len(doc.Log.Entries), len(entries))
		}
		for i, raw := range doc.Log.Entries {
			d := NewDecoder(bytes.NewReader(append(raw, '\n')))
			again, err := d.Next()
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("exported entry %d does not decode: %v", i, err)
			}
			want := *entries[i]
			want.Pageref = again.Pageref
			if !reflect.DeepEqual(*again, want) {
				t.Fatalf("entry %d changed:\n got %+v\nwant %+v", i, *again, want)
			}
		}
	})
}

// FuzzJSONRedactSkip checks the shortcut of Redactor.JSON: a text it does
// not parse (no secret fragment in it folded, no \u escape) is one that
// parsing would have left unchanged.
func FuzzJSONRedactSkip(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"Pass-Word":"x"}`, `{"pass\u0077ord":1}`, `[{"TOKEN":2},"x"]`, `{"pass\"word":1}`, `{"a":{"b_c":"token"}}`, `{"sec`} {
		f.Add(s)
	}
	r := NewRedactor(nil, nil)
	f.Fuzz(func(t *testing.T, text string) {
		if r.mayNameSecret(text) {
			return
		}
		if got := r.redactJSON(text); got != text {
			t.Fatalf("skipped a text that parsing changes:\n%q\n%q", text, got)
		}
	})
}
