package mysql

import (
	"strings"
)

// splitStatements splits a multi-statement query at the semicolons that
// are outside quotes ('…', "…", `…`, with backslash escapes) and comments
// (-- , #, /* */), trimming space and dropping empty pieces. It is used
// only to label the results of a multi-statement COM_QUERY.
func splitStatements(q string) []string {
	var out []string
	start := 0
	add := func(end int) {
		if s := strings.TrimSpace(q[start:end]); s != "" {
			out = append(out, s)
		}
	}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '\'', '"', '`':
			for i++; i < len(q) && q[i] != c; i++ {
				if q[i] == '\\' && c != '`' {
					i++
				}
			}
		case '#':
			i = lineEnd(q, i)
		case '-':
			if i+2 < len(q) && q[i+1] == '-' && (q[i+2] == ' ' || q[i+2] == '\t' || q[i+2] == '\n' || q[i+2] == '\r') || i+2 == len(q) && q[i+1] == '-' {
				i = lineEnd(q, i)
			}
		case '/':
			if i+1 < len(q) && q[i+1] == '*' {
				if j := strings.Index(q[i+2:], "*/"); j >= 0 {
					i += 2 + j + 1
				} else {
					i = len(q)
				}
			}
		case ';':
			add(i)
			start = i + 1
		}
	}
	if start < len(q) {
		add(len(q))
	}
	return out
}

func lineEnd(q string, i int) int {
	if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(q)
}

// isCall reports whether a statement is a CALL, whose result sets are
// followed by one final OK.
func isCall(s string) bool {
	s = strings.TrimLeft(s, " \t\r\n(")
	return len(s) >= 5 && strings.EqualFold(s[:4], "call") && (s[4] == ' ' || s[4] == '\t' || s[4] == '\n' || s[4] == '\r' || s[4] == '`')
}

// resultShape is what labelResults needs to know of a result.
type resultShape struct {
	set    bool // a result set
	failed bool // an ERR (it ends the query)
}

// labelResults gives each result of a multi-statement query its
// statement: a CALL keeps its result sets and ends with its OK, any other
// statement has one result. When the results do not fit the split (e.g.
// a compound statement with inner semicolons), every result gets the
// whole text.
func labelResults(query string, results []resultShape) []string {
	labels := make([]string, len(results))
	fill := func() []string {
		whole := strings.TrimSpace(query)
		for i := range labels {
			labels[i] = whole
		}
		return labels
	}
	if len(results) == 1 {
		return fill()
	}
	stmts := splitStatements(query)
	i := 0
	for k, r := range results {
		if i >= len(stmts) {
			return fill()
		}
		labels[k] = stmts[i]
		if !(r.set && isCall(stmts[i])) {
			i++
		}
	}
	if i != len(stmts) && !results[len(results)-1].failed {
		return fill()
	}
	return labels
}
