package har

import (
	"bytes"
	"encoding/json"
)

// marshal encodes v as compact JSON without HTML escaping (HAR text is
// read by tools, not embedded in pages).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
