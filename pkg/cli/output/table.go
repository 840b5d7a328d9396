package output

import (
	"io"
	"regexp"
	"strings"
	"unicode/utf8"
)

// columnGap separates table columns.
const columnGap = "   "

// TableWriter collects rows and writes them aligned, without borders, after
// a header row. Cells may carry ANSI colours; they do not count toward the
// width. The last column is not padded.
type TableWriter struct {
	w      io.Writer
	header []string
	rows   [][]string
}

// NewTable returns a table writing to w.
func NewTable(w io.Writer) *TableWriter { return &TableWriter{w: w} }

// Header sets the header row.
func (t *TableWriter) Header(cells ...string) { t.header = cells }

// Row adds a row.
func (t *TableWriter) Row(cells ...string) { t.rows = append(t.rows, cells) }

// Len returns the number of rows added.
func (t *TableWriter) Len() int { return len(t.rows) }

// Render writes the table.
func (t *TableWriter) Render() error {
	all := t.rows
	if len(t.header) > 0 {
		all = append([][]string{t.header}, t.rows...)
	}
	var widths []int
	for _, r := range all {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(c))
		}
	}
	var b strings.Builder
	for _, r := range all {
		b.Reset()
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-Width(c)))
				b.WriteString(columnGap)
			}
		}
		line := strings.TrimRight(b.String(), " ")
		if _, err := io.WriteString(t.w, line+"\n"); err != nil {
			return err
		}
	}
	return nil
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// Width returns the display width of s: runes, ANSI sequences excluded.
func Width(s string) int {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.ReplaceAllString(s, "")
	}
	return utf8.RuneCountInString(s)
}
