package har

import (
	"bytes"
	"encoding/json"
	"sync"
)

// lineBuf is a reusable encoding buffer with its JSON encoder.
type lineBuf struct {
	b   bytes.Buffer
	enc *json.Encoder
}

var lineBufs = sync.Pool{New: func() any {
	l := &lineBuf{}
	l.enc = json.NewEncoder(&l.b)
	l.enc.SetEscapeHTML(false)
	return l
}}

// appendLine encodes v as compact JSON without HTML escaping (HAR text is
// read by tools, not embedded in pages) and calls use with the line, its
// "\n" included; the bytes are valid during the call only.
func appendLine(v any, use func([]byte) error) error {
	l := lineBufs.Get().(*lineBuf)
	defer func() {
		if l.b.Cap() <= 1<<20 { // keep the pool's buffers small
			lineBufs.Put(l)
		}
	}()
	l.b.Reset()
	if err := l.enc.Encode(v); err != nil {
		return err
	}
	return use(l.b.Bytes())
}

// marshal is appendLine into a new slice, without the "\n".
func marshal(v any) ([]byte, error) {
	var out []byte
	err := appendLine(v, func(b []byte) error {
		out = append([]byte(nil), bytes.TrimSuffix(b, []byte("\n"))...)
		return nil
	})
	return out, err
}
