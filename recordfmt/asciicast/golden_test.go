package asciicast

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// step is one recorder call of a scripted session.
type step struct {
	at         time.Duration
	typ        byte // TypeOutput, TypeInput, TypeResize, TypeMarker
	data       string
	cols, rows int
}

func out(ms int, s string) step {
	return step{at: time.Duration(ms) * time.Millisecond, typ: TypeOutput, data: s}
}
func in(ms int, s string) step {
	return step{at: time.Duration(ms) * time.Millisecond, typ: TypeInput, data: s}
}
func resize(ms, c, r int) step {
	return step{at: time.Duration(ms) * time.Millisecond, typ: TypeResize, cols: c, rows: r}
}
func marker(ms int, s string) step {
	return step{at: time.Duration(ms) * time.Millisecond, typ: TypeMarker, data: s}
}

// bytewise splits s into one output step per byte, 1 ms apart.
func bytewise(ms int, s string) []step {
	var st []step
	for i := 0; i < len(s); i++ {
		st = append(st, out(ms+i, s[i:i+1]))
	}
	return st
}

// record writes steps through a Recorder and returns the stored form.
func record(t testing.TB, h Header, steps []step) []byte {
	t.Helper()
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		switch s.typ {
		case TypeOutput:
			err = r.Output(s.at, []byte(s.data))
		case TypeInput:
			err = r.Input(s.at, []byte(s.data))
		case TypeResize:
			err = r.Resize(s.at, s.cols, s.rows)
		case TypeMarker:
			err = r.Marker(s.at, s.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// garbage is deterministic binary output.
func garbage(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return string(b)
}

type goldenCase struct {
	name  string
	hdr   Header
	steps []step
	// screen is what the session printed, as asciinema cat must print it;
	// "" means the concatenated output, repaired as one stream.
	screen string
}

func goldenCases() []goldenCase {
	shell := []step{
		out(5, "\x1b]0;alice@web-1: ~\x07\x1b[01;32malice@web-1\x1b[00m:\x1b[01;34m~\x1b[00m$ "),
		in(900, "l"), out(901, "l"), in(1000, "s"), out(1001, "s"),
		in(1200, " "), out(1201, " "), in(1300, "-"), out(1301, "-"), in(1400, "l"), out(1401, "l"),
		in(1800, "\r"), out(1802, "\r\n"),
		out(1810, "total 8\r\n\x1b[0m\x1b[01;34mbin\x1b[0m  \x1b[01;32mrun.sh\x1b[0m  notes.txt  \x1b[01;36mlink\x1b[0m -> \x1b[01;34mbin\x1b[0m\r\n"),
		out(1811, "\x1b]0;alice@web-1: ~\x07\x1b[01;32malice@web-1\x1b[00m:\x1b[01;34m~\x1b[00m$ "),
		in(3000, "\x1b[200~echo \"quoted\\path\"\x1b[201~"), out(3001, "echo \"quoted\\path\""),
		in(3500, "\x7f\x7f"), out(3501, "\b \b\b \b"),
		in(4000, "\x03"), out(4001, "^C\r\n$ "),
		in(5000, "\x04"), out(5001, "logout\r\n"),
	}
	utf8Split := append(append(append([]step{out(0, "caf")}, bytewise(10, "é\r\n")...), bytewise(100, "smile 😀 ok\r\n")...),
		out(200, "日本\xe8"), out(201, "\xaa\x9e 語\r\n"),
		in(300, "\xc3"), in(301, "\xa9"), in(302, "\xf0\x9f"), in(303, "\x98\x80"),
		out(400, "tail \xf0\x9f\x98"), // cut at the end: flushed as U+FFFD
	)
	binary := []step{
		out(0, "\x00\x01\x02\x7f\xff\xfe\xc0\xaf\xe2\x82x\xed\xa0\x80 end\r\n"),
		out(50, garbage(4096)),
		out(60, "\r\n\x1b[0m$ "),
	}
	fullscreen := []step{
		out(0, "$ "), in(500, "vim notes.txt\r"), out(510, "vim notes.txt\r\n"),
		out(600, "\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\x1b[H\x1b[2J\x1b[?25l"),
		out(610, "\x1b[1;1Hfirst line of notes\x1b[2;1H\x1b[94m~                   \x1b[0m\x1b[3;1H\x1b[94m~\x1b[0m\x1b[24;1H\"notes.txt\" 1L, 20B\x1b[1;1H\x1b[?25h"),
		resize(1000, 132, 43),
		out(1010, "\x1b[?25l\x1b[H\x1b[2Jfirst line of notes\x1b[43;1H\"notes.txt\" 1L, 20B\x1b[1;1H\x1b[?25h"),
		in(2000, ":q\r"), out(2010, "\x1b[?1049l\x1b[23;0;0t\x1b[?1l\x1b>$ "),
		resize(2500, 80, 24),
		marker(3000, "session terminated by an administrator"),
		out(3000, "\r\nsession terminated by an administrator\r\n"),
	}
	exec := []step{
		out(20, "Linux web-1 6.1.0 x86_64 GNU/Linux\n"),
		out(21, "uptime: \t3 days\n"),
	}
	return []goldenCase{
		{name: "shell", hdr: testHeader, steps: shell},
		{name: "utf8-split", hdr: testHeader, steps: utf8Split,
			screen: "café\r\nsmile 😀 ok\r\n日本語 語\r\ntail \uFFFD"},
		{name: "binary", hdr: testHeader, steps: binary},
		{name: "fullscreen-resize", hdr: testHeader, steps: fullscreen},
		{name: "exec", hdr: Header{Width: 80, Height: 24, Timestamp: 1700000100, Command: "uname -a; uptime",
			SessionID: "0197a000-0000-7000-8000-000000000002", User: "ci-bot", Resource: "web-1", Login: "deploy"}, steps: exec},
	}
}

// expectedScreen is the output of steps as one stream, repaired as a whole.
func expectedScreen(steps []step) string {
	var all []byte
	for _, s := range steps {
		if s.typ == TypeOutput {
			all = append(all, s.data...)
		}
	}
	var u utf8Stream
	return string(u.flush(u.append(nil, all)))
}

func TestGoldenCasts(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			stored := record(t, c.hdr, c.steps)
			var cast bytes.Buffer
			if err := Export(&cast, bytes.NewReader(stored)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.name+".cast")
			if *update {
				writeFuzzSeed(t, "FuzzCompact", c.name, stored)
				writeFuzzSeed(t, "FuzzCompact", c.name+"-cut", stored[:len(stored)*2/3])
				if err := os.WriteFile(path, cast.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(cast.Bytes(), want) {
				t.Fatalf("export differs from %s (run go test -update after checking):\n%s", path, cast.Bytes())
			}
			screen := c.screen
			if screen == "" {
				screen = expectedScreen(c.steps)
			}
			if got := asciinemaCat(t, path); got != screen {
				t.Fatalf("asciinema cat %s printed\n%q\nwant\n%q", path, got, screen)
			}
		})
	}
}

// TestEncoderMatchesExport writes each session's .cast straight from events
// with an Encoder and checks it equals the export of the stored form, and
// that asciinema accepts it.
func TestEncoderMatchesExport(t *testing.T) {
	dir := t.TempDir()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			var exported bytes.Buffer
			if err := Export(&exported, bytes.NewReader(record(t, c.hdr, c.steps))); err != nil {
				t.Fatal(err)
			}
			d, err := NewDecoder(bytes.NewReader(exported.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var direct bytes.Buffer
			enc, err := NewEncoder(&direct, d.Header())
			if err != nil {
				t.Fatal(err)
			}
			for {
				ev, err := d.Next()
				if err != nil {
					if err.Error() != "EOF" {
						t.Fatal(err)
					}
					break
				}
				if err := enc.Encode(ev); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
			if direct.String() != exported.String() {
				t.Fatalf("Encoder wrote\n%s\nExport wrote\n%s", direct.String(), exported.String())
			}
			path := filepath.Join(dir, c.name+".cast")
			if err := os.WriteFile(path, direct.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if got, want := asciinemaCat(t, path), expectedScreen(c.steps); c.screen == "" && got != want {
				t.Fatalf("asciinema cat printed %q, want %q", got, want)
			}
		})
	}
}

// writeFuzzSeed writes data as a seed of the named fuzz target.
func writeFuzzSeed(t *testing.T, target, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(data)) + ")\n"
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// asciinemaCat returns what the real asciinema CLI prints for a .cast file.
// Without asciinema the test is skipped, or fails under CI=true.
func asciinemaCat(t *testing.T, path string) string {
	t.Helper()
	for _, tool := range []string{"asciinema", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI (apt-get install -y asciinema bsdutils): %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("script", "-qec", "asciinema cat '"+strings.ReplaceAll(abs, "'", `'\''`)+"'", "/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("asciinema cat %s: %v\n%s%s", path, err, got, stderr.Bytes())
	}
	return string(got)
}
