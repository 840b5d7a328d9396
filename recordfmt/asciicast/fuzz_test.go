package asciicast

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode checks that the Decoder (asciicast v2, and the stored form it
// recognises) never panics, that its errors wrap ErrMalformed or
// ErrTruncated, and that the events it accepts re-encode to a file that
// decodes to the same events. Lines and Player run over the same input.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("{\"version\": 2, \"width\": 80, \"height\": 24}\n[0.5, \"o\", \"\\u001b[1mhi\\r\\n\"]\n[1, \"r\", \"90x30\"]\n"))
	f.Add([]byte("{\"version\": 2, \"width\": 80, \"height\": 24, \"env\": {\"SHELL\": null}}\n[1e3, \"i\", \"\\ud800\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			checkErr(t, err)
			return
		}
		var evs []Event
		for {
			ev, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkErr(t, err)
				break
			}
			evs = append(evs, ev)
		}
		var buf bytes.Buffer
		enc, err := NewEncoder(&buf, d.Header())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if err := enc.Encode(ev); err != nil {
				t.Fatalf("Encode(%+v): %v", ev, err)
			}
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
		d2, err := NewDecoder(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-encoded header does not decode: %v\n%s", err, buf.Bytes())
		}
		last := 0.0
		for i, ev := range evs {
			got, err := d2.Next()
			if err != nil {
				t.Fatalf("re-encoded event %d: %v\n%s", i, err, buf.Bytes())
			}
			want := math.Max(last, math.Round(ev.Time*1e6)/1e6)
			last = want
			if got.Code != ev.Code || got.Data != ev.Data || math.Abs(got.Time-want) > 1e-9*math.Max(1, want) {
				t.Fatalf("event %d: re-decoded %+v, want %+v (time %v)", i, got, ev, want)
			}
		}
		if _, err := d2.Next(); err != io.EOF {
			t.Fatalf("re-encoded file has more events: %v", err)
		}
		drain(t, data)
	})
}

// FuzzCompact checks that the stored-form Reader never panics, that its
// errors wrap ErrMalformed or ErrTruncated, that the records it accepts
// re-record to a stream that reads back the same, and that Export, Lines
// and Player handle the same input.
func FuzzCompact(f *testing.F) {
	for _, c := range goldenCases() {
		if c.name != "binary" {
			f.Add(record(f, c.hdr, c.steps))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data))
		if err != nil {
			checkErr(t, err)
			return
		}
		var buf bytes.Buffer
		rec, err := NewRecorder(&buf, rd.Header())
		if err != nil {
			t.Fatal(err)
		}
		var recs []Record
		for {
			r, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkErr(t, err)
				break
			}
			r.Data = bytes.Clone(r.Data)
			if len(r.Data) == 0 && (r.Type == TypeOutput || r.Type == TypeInput) {
				continue // the Recorder records nothing for an empty read
			}
			recs = append(recs, r)
			switch r.Type {
			case TypeOutput:
				err = rec.Output(r.Time, r.Data)
			case TypeInput:
				err = rec.Input(r.Time, r.Data)
			case TypeResize:
				err = rec.Resize(r.Time, r.Cols, r.Rows)
			case TypeMarker:
				err = rec.Marker(r.Time, string(r.Data))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		rd2, err := NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range recs {
			got, err := rd2.Next()
			if err != nil {
				t.Fatalf("re-recorded event %d: %v", i, err)
			}
			if got.Type != want.Type || got.Time != want.Time || !bytes.Equal(got.Data, want.Data) || got.Cols != want.Cols || got.Rows != want.Rows {
				t.Fatalf("event %d: got %+v, want %+v", i, got, want)
			}
		}
		if _, err := rd2.Next(); err != io.EOF {
			t.Fatalf("re-recorded stream has more events: %v", err)
		}
		var cast bytes.Buffer
		if err := Export(&cast, bytes.NewReader(data)); err != nil {
			checkErr(t, err)
		}
		if cast.Len() > 0 {
			d, err := NewDecoder(bytes.NewReader(cast.Bytes()))
			if err != nil {
				t.Fatalf("export does not decode: %v\n%s", err, cast.Bytes())
			}
			for {
				if _, err := d.Next(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("export does not decode: %v\n%s", err, cast.Bytes())
				}
			}
		}
		drain(t, data)
	})
}

func checkErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v wraps neither ErrMalformed nor ErrTruncated", err)
	}
}

// drain runs Lines (output and input), AllLines (which must give the
// same lines of each kind) and a Player over data.
func drain(t *testing.T, data []byte) {
	var each [2][]Line
	var eachErr [2]bool
	for k, input := range []bool{false, true} {
		for l, err := range Lines(bytes.NewReader(data), input) {
			if err != nil {
				checkErr(t, err)
				eachErr[k] = true
				break
			}
			if l.Text == "" || len([]rune(l.Text)) > MaxLineRunes {
				t.Fatalf("bad line %q", l.Text)
			}
			each[k] = append(each[k], l)
		}
	}
	var all [2][]Line
	allErr := false
	for l, err := range AllLines(bytes.NewReader(data), false) {
		if err != nil {
			checkErr(t, err)
			allErr = true
			break
		}
		k := 0
		if l.Input {
			k = 1
		}
		all[k] = append(all[k], l.Line)
	}
	if allErr != (eachErr[0] || eachErr[1]) {
		t.Fatalf("AllLines error %v, Lines errors %v", allErr, eachErr)
	}
	if !allErr && !reflect.DeepEqual(all, each) {
		t.Fatalf("AllLines gave %q, Lines %q", all, each)
	}
	// skipBinary leaves out exactly the binary lines.
	var text [2][]Line
	for k := range each {
		for _, l := range each[k] {
			if !BinaryLine(l.Text) {
				text[k] = append(text[k], l)
			}
		}
	}
	var skipped [2][]Line
	for l, err := range AllLines(bytes.NewReader(data), true) {
		if err != nil {
			break
		}
		k := 0
		if l.Input {
			k = 1
		}
		if BinaryLine(l.Text) {
			t.Fatalf("skipBinary gave the binary line %q", l.Text)
		}
		skipped[k] = append(skipped[k], l.Line)
	}
	if !allErr && !reflect.DeepEqual(skipped, text) {
		t.Fatalf("AllLines skipping binary lines gave %q, want %q", skipped, text)
	}
	p, err := NewPlayer(bytes.NewReader(data), PlayOptions{Speed: 3, IdleLimit: time.Second, From: time.Second})
	if err != nil {
		checkErr(t, err)
		return
	}
	for {
		st, err := p.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			checkErr(t, err)
			return
		}
		if st.Wait < 0 || st.Wait > time.Second {
			t.Fatalf("wait %v outside [0, idle limit / speed]", st.Wait)
		}
	}
}

// FuzzTextFeed checks the fast paths of the text extraction (runs of
// ignored control bytes, whole UTF-8 characters, printable runs) against
// the byte-at-a-time path: the same bytes fed whole and fed one byte at a
// time give the same lines, in the output and in the input.
func FuzzTextFeed(f *testing.F) {
	for _, s := range []string{
		"hello\x00\x00\x00world\n", "caf\xc3\xa9 \xf0\x9f\x98\x80\n", "a\xe2\x82b\xff\xc3\n", "\x1b[31mred\x1b[0m\r\nx\x7fy\n",
		"ls -l\r", "abc\x08\x08d\x15e\x17f\r", "\xe2\x82", "\x1b]0;title\x07text\n", "\t\x01\x02\x05z\x04",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, input := range []bool{false, true} {
			collect := func(split bool) []Line {
				var got []Line
				st := &textState{input: input, emit: func(l Line, _ error) bool { got = append(got, l); return true }}
				if split {
					for i := range data {
						st.feed(data[i : i+1])
					}
				} else {
					st.feed(data)
				}
				st.flushLine()
				return got
			}
			whole, bytewise := collect(false), collect(true)
			if !reflect.DeepEqual(whole, bytewise) {
				t.Fatalf("input=%v: fed whole %q, fed byte by byte %q", input, whole, bytewise)
			}
		}
	})
}
