package postgres

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The recording text index splits lines into words here, not with a
// PostgreSQL text search configuration (whose parser keeps paths, URLs,
// hyphenated words and e-mail addresses whole): a word is a run of
// letters, digits and private-use characters, lower-cased, as the
// unicode61 tokenizer of the SQLite store's FTS5 index splits them (which
// also folds diacritics; this does not). A line's words are stored as a
// tsvector of the words at their positions, and a search is the tsquery
// of its words at consecutive positions (a phrase).

// Limits of a tsvector: positions above maxWordPos are clamped by
// PostgreSQL, and a lexeme takes at most 2047 bytes.
const (
	maxWordPos   = 16383
	maxWordBytes = 2000
)

// validText returns text as PostgreSQL takes it in a text column: valid
// UTF-8 without NUL characters (a recording's line may have either);
// each is replaced by U+FFFD, which separates words as they did.
func validText(text string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), "\x00", "\uFFFD")
}

// isWordRune reports whether r belongs to a word.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// words returns the words of text, lower-cased, each cut to maxWordBytes.
func words(text string) []string {
	ws := strings.FieldsFunc(text, func(r rune) bool { return !isWordRune(r) })
	for i, w := range ws {
		w = strings.ToLower(w)
		if len(w) > maxWordBytes {
			cut := maxWordBytes
			for cut > 0 && !utf8.RuneStart(w[cut]) {
				cut--
			}
			w = w[:cut]
		}
		ws[i] = w
	}
	return ws
}

// quoteLexeme quotes w for the input of a tsvector or tsquery.
func quoteLexeme(w string) string {
	return `'` + strings.NewReplacer(`'`, `''`, `\`, `\\`).Replace(w) + `'`
}

// lineVector returns the tsvector input of a line: each distinct word with
// its positions (1-based; at most maxWordPos words are kept, a phrase
// beyond them could not be told from its clamped positions).
func lineVector(text string) string {
	ws := words(text)
	if len(ws) > maxWordPos {
		ws = ws[:maxWordPos]
	}
	order := []string{}
	pos := map[string][]int{}
	for i, w := range ws {
		if _, ok := pos[w]; !ok {
			order = append(order, w)
		}
		pos[w] = append(pos[w], i+1)
	}
	var b strings.Builder
	for i, w := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(quoteLexeme(w))
		for k, p := range pos[w] {
			if k == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	return b.String()
}

// phraseQuery returns the tsquery input of a phrase search for text ("" when
// it has no words).
func phraseQuery(text string) string {
	ws := words(text)
	for i, w := range ws {
		ws[i] = quoteLexeme(w)
	}
	return strings.Join(ws, " <-> ")
}
