package asciicast

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func collectLines(t *testing.T, src []byte, input bool) ([]Line, error) {
	t.Helper()
	var got []Line
	for l, err := range Lines(bytes.NewReader(src), input) {
		if err != nil {
			return got, err
		}
		got = append(got, l)
	}
	return got, nil
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestLinesOutput(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		want  []Line
	}{
		{"plain lines", []step{out(0, "hello\r\nworld\n")},
			[]Line{{0, "hello"}, {0, "world"}}},
		{"colors", []step{out(10, "\x1b[1;31mred\x1b[0m and \x1b[38;5;208morange\x1b[m\r\n")},
			[]Line{{ms(10), "red and orange"}}},
		{"prompt with OSC title (BEL and ST)", []step{
			out(0, "\x1b]0;alice@web-1: ~\x07\x1b[01;32malice@web-1\x1b[00m:~$ ls\r\n"),
			out(5, "\x1b]2;title\x1b\\\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n")},
			[]Line{{0, "alice@web-1:~$ ls"}, {ms(5), "link"}}},
		{"ls --color listing", []step{out(0, "\x1b[0m\x1b[01;34mbin\x1b[0m  \x1b[01;32mrun.sh\x1b[0m  notes.txt  \x1b[01;36mlink\x1b[0m -> \x1b[01;34mbin\x1b[0m\r\n")},
			[]Line{{0, "bin  run.sh  notes.txt  link -> bin"}}},
		{"line redrawn after CR keeps the last version", []step{
			out(0, "progress 10%"), out(100, "\rprogress 55%"), out(200, "\rprogress 100%\r\n")},
			[]Line{{0, "progress 100%"}}},
		{"CR then shorter text with erase", []step{out(0, "long long text\r\x1b[Kshort\r\n")},
			[]Line{{0, "short"}}},
		{"erase restarts the line time", []step{out(0, "old"), out(50, "\r\x1b[2K"), out(90, "new\n")},
			[]Line{{ms(90), "new"}}},
		{"backspace echo", []step{out(0, "ab\b \bc\r\n")},
			[]Line{{0, "ac"}}},
		{"bracketed paste mode and cursor keys mode", []step{out(0, "\x1b[?2004h\x1b[?1h\x1b=$ echo hi\x1b[?2004l\r\r\n")},
			[]Line{{0, "$ echo hi"}}},
		{"charset selects and DCS", []step{out(0, "\x1b(B\x1b)0box\x1bP1$r0m\x1b\\ done\x1b#8\r\n")},
			[]Line{{0, "box done"}}},
		{"tabs", []step{out(0, "a\tb\r\n")},
			[]Line{{0, "a       b"}}},
		{"vim-like screen: one line per drawn row", []step{
			out(0, "\x1b[?1049h\x1b[H\x1b[2J"),
			out(10, "\x1b[1;1Hfirst line\x1b[2;1H\x1b[94m~\x1b[0m\x1b[3;1Hthird \x1b[3;10Hend\x1b[24;1H\"notes.txt\" 3L, 40B\x1b[1;1H"),
			out(20, "\x1b[?1049l$ ")},
			[]Line{{ms(10), "first line"}, {ms(10), "~"}, {ms(10), "third    end"}, {ms(10), "\"notes.txt\" 3L, 40B"}, {ms(20), "$"}}},
		{"cursor forward and column", []step{out(0, "a\x1b[3Cb\x1b[1Gz\r\n")},
			[]Line{{0, "z   b"}}},
		{"UTF-8 split across writes", []step{out(0, "caf\xc3"), out(5, "\xa9 \xf0\x9f"), out(6, "\x98\x80\n")},
			[]Line{{0, "café 😀"}}},
		{"invalid bytes", []step{out(0, "a\xffb\xe2\x82c\x00\x07d\n")},
			[]Line{{0, "a\uFFFDb\uFFFDcd"}}},
		{"blank lines skipped, time of first character", []step{out(0, "\r\n   \r\n"), out(30, "  "), out(40, "x\n")},
			[]Line{{ms(40), "  x"}}},
		{"unterminated last line", []step{out(0, "$ exit")},
			[]Line{{0, "$ exit"}}},
		{"stray CSI is capped", []step{out(0, "\x1b["+strings.Repeat("1", maxSeq+1)+"visible\n")},
			[]Line{{0, "visible"}}},
		{"input events ignored", []step{in(0, "secret\r"), out(1, "shown\n")},
			[]Line{{ms(1), "shown"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := collectLines(t, record(t, testHeader, c.steps), false)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLinesInput(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
		want  []Line
	}{
		{"keystrokes and enter", []step{in(0, "l"), in(100, "s"), in(200, "\r"), in(300, "pwd\r")},
			[]Line{{0, "ls"}, {ms(300), "pwd"}}},
		{"DEL and backspace", []step{in(0, "lx\x7fs -la\b\bl\r")},
			[]Line{{0, "ls -l"}}},
		{"arrows insert in the middle", []step{in(0, "ehco\x1b[D\x1b[D\x1b[Dc\x1b[C\x1b[3~\r")},
			[]Line{{0, "echo"}}},
		{"SS3 arrows, home and end", []step{in(0, "world\x1bOH\x01hello \x1bOF\x05!\r")},
			[]Line{{0, "hello world!"}}},
		{"ctrl-U and ctrl-W", []step{in(0, "wrong\x15git push origin\x17main\r")},
			[]Line{{0, "git push main"}}},
		{"ctrl-C ends the line", []step{in(0, "sleep 100\x03"), in(10, "exit\x04")},
			[]Line{{0, "sleep 100"}, {ms(10), "exit"}}},
		{"bracketed paste", []step{in(0, "\x1b[200~echo pasted\x1b[201~\r")},
			[]Line{{0, "echo pasted"}}},
		{"delete key", []step{in(0, "abc\x1b[D\x1b[D\x1b[3~\r")},
			[]Line{{0, "ac"}}},
		{"UTF-8 split", []step{in(0, "\xc3"), in(1, "\xa9t\xc3\xa9\r")},
			[]Line{{ms(1), "été"}}},
		{"output ignored", []step{out(0, "prompt$ "), in(5, "id\r")},
			[]Line{{ms(5), "id"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := collectLines(t, record(t, testHeader, c.steps), true)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestLinesCapsLength(t *testing.T) {
	long := strings.Repeat("x", 2*MaxLineRunes+10)
	got, err := collectLines(t, record(t, testHeader, []step{out(0, long+"\n")}), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got[0].Text) != MaxLineRunes || len(got[1].Text) != MaxLineRunes || len(got[2].Text) != 10 {
		t.Fatalf("got %d lines", len(got))
	}
}

func TestLinesFromCast(t *testing.T) {
	cast := `{"version": 2, "width": 80, "height": 24}
[0.5, "o", "\u001b[1mhello\u001b[0m\r\n"]
[1.25, "i", "ls\r"]
[2.0, "x", "unknown code"]
`
	got, err := collectLines(t, []byte(cast), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Line{{ms(500), "hello"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	got, err = collectLines(t, []byte(cast), true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Line{{ms(1250), "ls"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestLinesErrors(t *testing.T) {
	t.Run("not a recording", func(t *testing.T) {
		_, err := collectLines(t, []byte("hello"), false)
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("truncated keeps text before the cut", func(t *testing.T) {
		b := record(t, testHeader, []step{out(0, "before\n"), out(5, "partial"), out(10, "lost")})
		got, err := collectLines(t, b[:len(b)-2], false)
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v, want ErrTruncated", err)
		}
		if want := []Line{{0, "before"}, {ms(5), "partial"}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
	for _, c := range []struct{ name, out string }{
		{"consumer stops early", "a\nb\nc\n"},
		{"consumer stops at a cut long line", strings.Repeat("y", 3*MaxLineRunes)},
		{"consumer stops at a cut long line of UTF-8", strings.Repeat("é", 3*MaxLineRunes)},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := 0
			for range Lines(bytes.NewReader(record(t, testHeader, []step{out(0, c.out)})), false) {
				n++
				break
			}
			if n != 1 {
				t.Fatalf("yielded %d lines after break", n)
			}
		})
	}
}
