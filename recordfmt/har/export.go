package har

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// PageID is the id of the one page of an exported session.
const PageID = "session"

// Export reads a stored recording from src and writes one HAR 1.2
// document to dst, entry by entry (memory does not grow with the
// recording). A last line cut short (ErrTruncated) ends the entries and
// is noted in log.comment; any other malformed line is an error.
func Export(dst io.Writer, src io.Reader) error {
	d := NewDecoder(src)
	h, err := d.Header()
	if err != nil {
		return err
	}
	first, ferr := d.Next()
	if ferr != nil && !errors.Is(ferr, io.EOF) && !errors.Is(ferr, ErrTruncated) {
		return ferr
	}
	creator := h.Creator
	if creator.Name == "" {
		creator = Creator{Name: "onepam", Version: "unknown"}
	}
	started := h.Started
	if started == "" && first != nil {
		started = first.StartedDateTime
	}
	w := bufio.NewWriterSize(dst, 64<<10)
	head := struct {
		Version string  `json:"version"`
		Creator Creator `json:"creator"`
		Pages   []Page  `json:"pages"`
	}{Version: "1.2", Creator: creator, Pages: []Page{}}
	if started != "" {
		title := "onepam session"
		if h.SessionID != "" {
			title += " " + h.SessionID
		}
		if h.Resource != "" {
			title += " (" + h.Resource + ")"
		}
		if h.Target != "" {
			title += " " + h.Target
		}
		head.Pages = append(head.Pages, Page{StartedDateTime: started, ID: PageID, Title: title,
			PageTimings: PageTimings{OnContentLoad: -1, OnLoad: -1}})
	}
	hb, err := marshal(head)
	if err != nil {
		return err
	}
	w.WriteString(`{"log":`)
	w.Write(hb[:len(hb)-1]) // without the closing brace
	w.WriteString(`,"entries":[`)
	n := 0
	e, nerr := first, ferr
	var b []byte
	for e != nil {
		if started != "" {
			e.Pageref = PageID
		}
		if b, err = appendEntry(b[:0], e); err != nil {
			return err
		}
		if n > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
		w.Write(b)
		n++
		e, nerr = d.Next()
	}
	w.WriteString("\n]")
	switch {
	case errors.Is(nerr, io.EOF):
	case errors.Is(nerr, ErrTruncated):
		c, _ := marshal(fmt.Sprintf("recording cut short after %d entries", n))
		w.WriteString(`,"comment":`)
		w.Write(c)
	default:
		return nerr
	}
	w.WriteString("}}\n")
	return w.Flush()
}
