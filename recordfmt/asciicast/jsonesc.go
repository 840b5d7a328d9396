package asciicast

import "github.com/onepam/onepam/pkg/jsonesc"

// appendJSONString appends s, which must be valid UTF-8, as a JSON string the
// way Python's json.dumps(ensure_ascii=False) writes it: '"' and '\' and
// \b \f \n \r \t get short escapes, other bytes below 0x20 become \u00XX,
// everything else (DEL, non-ASCII, U+2028) is written as is.
func appendJSONString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !jsonesc.NeedsEscape(c) {
			continue
		}
		dst = append(dst, s[run:i]...)
		dst = jsonesc.AppendASCII(dst, c)
		run = i + 1
	}
	dst = append(dst, s[run:]...)
	return append(dst, '"')
}
