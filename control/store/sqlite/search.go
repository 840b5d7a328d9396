package sqlite

import "strings"

// ftsQuery is the FTS5 query of a text search: the phrase of text's words
// in the line column ("" when text has no words).
func ftsQuery(text string) string {
	phrase := ftsPhrase(text)
	if phrase == "" {
		return ""
	}
	return `line : ` + phrase
}

// ftsPhrase turns free text into an FTS5 phrase: the words in order, each
// quoted, so that no character of the person's text is FTS5 syntax.
func ftsPhrase(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
	if len(words) == 0 {
		return ""
	}
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(words, " + ")
}
