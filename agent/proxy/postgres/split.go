package postgres

import "strings"

// splitStatements splits the text of a simple Query into its statements
// the way the server does, so each result can be logged with its own
// text: at semicolons outside quotes ('...', E'...', "...", $tag$...$tag$)
// and comments (-- and nested /* */). Statements are trimmed; empty ones
// (only blanks, comments or ';') are dropped, as the server sends no
// result for them.
func splitStatements(q string) []string {
	if strings.IndexByte(q, ';') < 0 {
		if s := strings.TrimSpace(q); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	start, content := 0, false
	emit := func(end int) {
		if content {
			out = append(out, strings.TrimSpace(q[start:end]))
		}
		start, content = end+1, false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == ';':
			emit(i)
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			depth := 1
			for i += 2; i < len(q) && depth > 0; i++ {
				switch {
				case q[i] == '/' && i+1 < len(q) && q[i+1] == '*':
					depth++
					i++
				case q[i] == '*' && i+1 < len(q) && q[i+1] == '/':
					depth--
					i++
				}
			}
			i--
		case c == '\'':
			backslash := i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i < 2 || !identChar(q[i-2]))
			content = true
			for i++; i < len(q); i++ {
				if backslash && q[i] == '\\' {
					i++
					continue
				}
				if q[i] == '\'' {
					if i+1 < len(q) && q[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case c == '"':
			content = true
			for i++; i < len(q) && q[i] != '"'; i++ {
			}
		case c == '$' && (i == 0 || !identChar(q[i-1])):
			content = true
			if tag, ok := dollarTag(q[i:]); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					i = len(q)
				} else {
					i += len(tag) + end + len(tag) - 1
				}
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		default:
			content = true
		}
	}
	emit(len(q))
	return out
}

// dollarTag returns the opening $tag$ at the start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[:j+1], true
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return "", false
}

func identChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
