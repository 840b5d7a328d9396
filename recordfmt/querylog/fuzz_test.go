package querylog

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzDecode checks that the Decoder never panics, that its errors wrap
// ErrMalformed, ErrTruncated or ErrLineTooLong, and that the entries it
// accepts re-encode to lines that decode to the same entries.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("{\"t\":0.5,\"conn\":1,\"kind\":\"execute\",\"params\":[1,\"a\",null,true,1e400],\"rows\":2}\n"))
	f.Add([]byte("{\"kind\":\"query\",\"statement\":\"\\ud800\"}\n{\"kind\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDecoder(bytes.NewReader(data))
		var es []Entry
		for {
			e, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrLineTooLong) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				if errors.Is(err, ErrTruncated) {
					break
				}
				continue
			}
			es = append(es, e)
		}
		_, _ = Summarize(bytes.NewReader(data))
		if len(es) == 0 {
			return
		}
		// Entries as decoded are already within the limits except for
		// rounding of t/duration; normalise once, then require a fixed point.
		once := decodeAll(t, encodeAll(t, es))
		twice := decodeAll(t, encodeAll(t, once))
		if !reflect.DeepEqual(once, twice) {
			t.Fatalf("re-encoding is not stable:\n%+v\n%+v", once, twice)
		}
	})
}
