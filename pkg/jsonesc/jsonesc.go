// Package jsonesc holds the one piece of JSON string escaping that the
// hand-written encoders of the recording formats share: the escape of an
// ASCII byte that may not stand as itself inside a JSON string.
package jsonesc

const hexDigits = "0123456789abcdef"

// AppendASCII appends the JSON escape of c, which must be '"', '\' or a
// byte below 0x20: the short escapes \" \\ \b \f \n \r \t, and \u00XX for
// the other control bytes (RFC 8259 §7, as encoding/json and Python's
// json.dumps write them).
func AppendASCII(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	default:
		return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
	}
}

// NeedsEscape reports whether the ASCII byte c must be escaped inside a
// JSON string.
func NeedsEscape(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
