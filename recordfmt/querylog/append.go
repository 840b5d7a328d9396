package querylog

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/onepam/onepam/pkg/jsonesc"
)

// appendEntry appends e as one JSON line, byte for byte what encoding/json
// (SetEscapeHTML(false)) writes for it, without reflection: the proxies log
// every statement, so this is on the path of every query. e is already
// normalised (Params holds only what Param returns).
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	b = append(b, `{"t":`...)
	b = appendFloat(b, e.T)
	b = append(b, `,"conn":`...)
	b = strconv.AppendInt(b, int64(e.Conn), 10)
	b = appendOptString(b, `,"database":`, e.Database)
	b = appendOptString(b, `,"user":`, e.User)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	b = appendOptString(b, `,"name":`, e.Name)
	b = appendOptString(b, `,"statement":`, e.Statement)
	if len(e.Params) > 0 {
		b = append(b, `,"params":[`...)
		for i, p := range e.Params {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, p); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"duration":`...)
	b = appendFloat(b, e.Duration)
	b = append(b, `,"rows":`...)
	b = strconv.AppendInt(b, e.Rows, 10)
	if e.Bytes != 0 {
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, e.Bytes, 10)
	}
	b = appendOptString(b, `,"error_code":`, e.ErrorCode)
	b = appendOptString(b, `,"error":`, e.Error)
	b = appendOptString(b, `,"tag":`, e.Tag)
	return append(b, "}\n"...), nil
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendValue appends one parameter value; the kinds Param returns are
// written directly, anything else (only if a caller bypassed Param) by
// encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			break // encoding/json's error
		}
		return appendFloat(b, x), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendFloat formats f as encoding/json does for a float64 (f finite).
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029
// are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if !jsonesc.NeedsEscape(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = jsonesc.AppendASCII(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', "89"[r&1])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
