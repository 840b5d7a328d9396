package asciicast

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestUTF8Repair(t *testing.T) {
	// Expected values are what Python's bytes.decode("utf-8", "replace")
	// (asciinema's decoder) returns for the whole input.
	cases := []struct {
		in   string
		want string
	}{
		{"plain ascii", "plain ascii"},
		{"caf\xc3\xa9", "café"},
		{"\xe2\x82x", "\uFFFDx"},
		{"\xf0\x9f\x98x", "\uFFFDx"},
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xe0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\x80\x80", "\uFFFD\uFFFD"},
		{"\xf0\x80", "\uFFFD\uFFFD"},
		{"end\xf0\x9f\x98", "end\uFFFD"},
		{"\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\uFFFF\U0010FFFF"},
	}
	for _, c := range cases {
		t.Run(strings.ToValidUTF8(c.in, "?"), func(t *testing.T) {
			var whole utf8Stream
			if got := string(whole.flush(whole.append(nil, []byte(c.in)))); got != c.want {
				t.Fatalf("whole: got %q, want %q", got, c.want)
			}
			// every split point, and byte by byte, gives the same text
			for cut := 0; cut <= len(c.in); cut++ {
				var s utf8Stream
				b := s.append(nil, []byte(c.in[:cut]))
				b = s.append(b, []byte(c.in[cut:]))
				if got := string(s.flush(b)); got != c.want {
					t.Fatalf("split at %d: got %q, want %q", cut, got, c.want)
				}
			}
			var s utf8Stream
			var b []byte
			for i := 0; i < len(c.in); i++ {
				b = s.append(b, []byte{c.in[i]})
			}
			if got := string(s.flush(b)); got != c.want {
				t.Fatalf("byte by byte: got %q, want %q", got, c.want)
			}
		})
	}
}

func TestJSONEscaping(t *testing.T) {
	// Expected values are Python's json.dumps(s, ensure_ascii=False).
	cases := []struct{ in, want string }{
		{"a\x00\x01\x1b\b\f\n\r\t\"\\é😀\u2028\u0085/<>&x\x7f", `"a\u0000\u0001\u001b\b\f\n\r\t\"\\é😀` + "\u2028\u0085" + `/<>&x` + "\x7f" + `"`},
		{"", `""`},
		{"\x1f\x0b", `"\u001f\u000b"`},
	}
	for _, c := range cases {
		if got := string(appendJSONString(nil, c.in)); got != c.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestDecoderCast(t *testing.T) {
	cast := "{\"version\": 2, \"width\": 100, \"height\": 30, \"timestamp\": 1504467315, \"idle_time_limit\": 2.5, \"command\": \"/bin/bash\", \"title\": \"Demo\", \"env\": {\"TERM\": \"xterm\", \"SHELL\": null}, \"theme\": {\"fg\": \"#fff\"}, \"onepam\": {\"session_id\": \"s1\", \"user\": \"u\", \"resource\": \"r\", \"login\": \"l\"}}\r\n" +
		"[0.248848, \"o\", \"\\u001b[1;31mHello\\r\\n\"]\n" +
		"\n" +
		"[1.5, \"m\", \"\"]\n" +
		"[4.05, \"r\", \"80x24\"]\n" +
		"[5, \"i\", \"\\ud83d\\ude00\"]\n"
	d, err := NewDecoder(strings.NewReader(cast))
	if err != nil {
		t.Fatal(err)
	}
	wantH := Header{Width: 100, Height: 30, Timestamp: 1504467315, Command: "/bin/bash", Title: "Demo",
		Env: map[string]string{"TERM": "xterm"}, SessionID: "s1", User: "u", Resource: "r", Login: "l"}
	if !reflect.DeepEqual(d.Header(), wantH) {
		t.Fatalf("header %+v, want %+v", d.Header(), wantH)
	}
	if d.IdleTimeLimit() != 2.5 {
		t.Fatalf("idle_time_limit %v", d.IdleTimeLimit())
	}
	want := []Event{{0.248848, "o", "\x1b[1;31mHello\r\n"}, {1.5, "m", ""}, {4.05, "r", "80x24"}, {5, "i", "😀"}}
	for i, w := range want {
		ev, err := d.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev != w {
			t.Fatalf("event %d: %+v, want %+v", i, ev, w)
		}
	}
	if _, err := d.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

func TestDecoderStoredForm(t *testing.T) {
	b := record(t, testHeader, []step{out(1500, "caf\xc3"), out(2000, "\xa9"), resize(2500, 90, 20), in(3000, "x")})
	d, err := NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if d.Header().SessionID != testHeader.SessionID {
		t.Fatalf("header %+v", d.Header())
	}
	var got []Event
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	want := []Event{{1.5, "o", "caf"}, {2, "o", "é"}, {2.5, "r", "90x20"}, {3, "i", "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestDecoderErrors(t *testing.T) {
	hdr := `{"version": 2, "width": 80, "height": 24}` + "\n"
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "empty input"},
		{"not json", "hello\n", "line 1: header is not a JSON object"},
		{"bad header json", "{\"version\": 2,\n", "line 1: header"},
		{"version 1", `{"version": 1, "width": 80, "height": 24}`, "asciicast version 1, want 2"},
		{"no version", `{"width": 80, "height": 24}`, "no version"},
		{"no size", `{"version": 2}`, "lacks width or height"},
		{"negative size", `{"version": 2, "width": -1, "height": 24}`, "negative terminal size"},
		{"string width", `{"version": 2, "width": "80", "height": 24}`, "line 1: header"},
		{"event not array", hdr + `{"t": 1}`, "line 2: event is not a JSON array"},
		{"two elements", hdr + `[1, "o"]`, "line 2: event has 2 elements"},
		{"negative time", hdr + `[-1, "o", "x"]`, "line 2: event time -1 out of range"},
		{"string time", hdr + `["1", "o", "x"]`, "line 2: event time"},
		{"null data", hdr + `[1, "o", null]`, "line 2: event element 3 is null"},
		{"empty code", hdr + `[1, "", "x"]`, "line 2: empty event code"},
		{"number data", hdr + "[0, \"o\", \"ok\"]\n[1, \"o\", 5]", "line 3: event data"},
		{"broken json", hdr + `[1, "o", "x`, "line 2: event"},
		{"line too long", hdr + `[1, "o", "` + strings.Repeat("x", MaxLineSize) + `"]`, "line 2: longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := NewDecoder(strings.NewReader(c.in))
			for err == nil {
				_, err = d.Next()
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrMalformed mentioning %q", err, c.want)
			}
			if d != nil {
				if _, again := d.Next(); again != err {
					t.Fatalf("second Next: %v, want the same error", again)
				}
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	good := record(t, testHeader, []step{out(1000, "hello"), resize(2000, 80, 24)})
	hdrEnd := len(record(t, testHeader, nil))
	frame := func(events ...[]byte) []byte {
		return append(append([]byte{}, good[:hdrEnd]...), bytes.Join(events, nil)...)
	}
	cases := []struct {
		name string
		in   []byte
		is   error
		want string
	}{
		{"empty", nil, ErrMalformed, "empty stream"},
		{"other format", []byte(`{"version": 2}`), ErrMalformed, "not the stored form"},
		{"short magic", []byte("OPC"), ErrTruncated, "preamble"},
		{"bad version", []byte("OPCAST\x09\x02{}"), ErrMalformed, "version 9"},
		{"header too long", []byte("OPCAST\x01\xff\xff\x7f"), ErrMalformed, "header length"},
		{"header cut", []byte("OPCAST\x01\x10{}"), ErrTruncated, "header"},
		{"header not json", []byte("OPCAST\x01\x02[]"), ErrMalformed, "header"},
		{"negative width", []byte("OPCAST\x01\x0c{\"width\":-1}"), ErrMalformed, "negative size"},
		{"event cut in payload", frame([]byte{'o', 0, 5, 'a', 'b'}), ErrTruncated, "event payload"},
		{"event cut after the type", good[:len(good)-6], ErrTruncated, "event time"},
		{"event cut in length", frame([]byte{'o', 0x80}), ErrTruncated, "event time"},
		{"event too large", frame([]byte{'o', 0, 0xff, 0xff, 0xff, 0x7f}), ErrMalformed, "event 1 at byte"},
		{"varint overflow", frame([]byte{'o', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}), ErrMalformed, "overflows"},
		{"time overflow", frame([]byte{'o', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}), ErrMalformed, "time overflows"},
		{"bad resize", frame([]byte{'r', 0, 1, 0x80}), ErrMalformed, "resize: bad column"},
		{"resize no rows", frame([]byte{'r', 0, 1, 5}), ErrMalformed, "resize: bad row"},
		{"resize trailing", frame([]byte{'r', 0, 3, 5, 5, 5}), ErrMalformed, "resize: trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rd, err := NewReader(bytes.NewReader(c.in))
			for err == nil {
				_, err = rd.Next()
			}
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.is, c.want)
			}
		})
	}
	t.Run("unknown event types are skipped", func(t *testing.T) {
		rd, err := NewReader(bytes.NewReader(frame([]byte{'z', 5, 2, 'h', 'i'}, []byte{'o', 5, 1, '!'})))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := rd.Next()
		if err != nil || rec.Type != TypeOutput || string(rec.Data) != "!" || rec.Time != 10*1000 {
			t.Fatalf("got %+v, %v", rec, err)
		}
	})
}

func TestExportTruncated(t *testing.T) {
	b := record(t, testHeader, []step{out(0, "ok \xf0\x9f"), out(10, "\x98\x80 more")})
	var cast bytes.Buffer
	err := Export(&cast, bytes.NewReader(b[:len(b)-3]))
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	lines := strings.Split(strings.TrimSuffix(cast.String(), "\n"), "\n")
	if len(lines) != 3 || lines[1] != `[0.000000, "o", "ok "]` || lines[2] != `[0.000000, "o", "`+"\uFFFD"+`"]` {
		t.Fatalf("export of a cut recording:\n%s", cast.String())
	}
}
