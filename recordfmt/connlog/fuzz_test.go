package connlog

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzDecode checks that the decoder never panics, that every error wraps
// ErrMalformed, and that whatever it accepts re-encodes to something that
// decodes to the same events.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"t":0.5,"event":"open","conn":1,"peer":"1.2.3.4:5","target":"127.0.0.1:22"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		var evs []Event
		for {
			e, err := d.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			evs = append(evs, e)
		}
		var buf bytes.Buffer
		enc := NewEncoder(&buf)
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				// A decoded line may be re-encoded longer than the limit
				// (HTML escaping of <, >, &); that is the only allowed failure.
				if len(data) > MaxLineSize/6 {
					return
				}
				t.Fatalf("re-encode %+v: %v", e, err)
			}
		}
		again, err := ReadAll(&buf)
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		if len(again) != len(evs) || (len(evs) > 0 && !reflect.DeepEqual(again, evs)) {
			t.Fatalf("re-encoded events differ:\n got %+v\nwant %+v", again, evs)
		}
	})
}
