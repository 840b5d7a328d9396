package container

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKey is a fixed agent key for tests.
func testKey() (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

func testHeader() Header {
	return Header{
		SessionID: "0b6f3c2e-5a1d-4c8e-9f00-1234567890ab",
		Format:    "asciicast",
		AgentID:   "agent-1",
		CreatedAt: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC),
	}
}

// write is one recorded write.
type write struct {
	at   time.Duration
	data []byte
}

// recording builds a container in memory from writes, flushing before any
// write whose session time starts a new flush period (flushEvery > 0), and
// finishing with the test key when finish is set.
type recording struct {
	buf    bytes.Buffer
	inner  []byte
	writes int // Write calls that reached the buffer
}

type countingWriter struct {
	buf   *bytes.Buffer
	calls *int
}

func (c countingWriter) Write(p []byte) (int, error) {
	*c.calls++
	return c.buf.Write(p)
}

func build(t testing.TB, writes []write, flushEvery time.Duration, frameSize int, finish bool) *recording {
	t.Helper()
	rec := &recording{}
	w, err := NewWriter(countingWriter{&rec.buf, &rec.writes}, testHeader(), Config{FrameSize: frameSize})
	if err != nil {
		t.Fatal(err)
	}
	var period time.Duration = -1
	for _, wr := range writes {
		if flushEvery > 0 {
			if p := wr.at / flushEvery; p != period {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				period = p
			}
		}
		if _, err := w.Write(wr.at, wr.data); err != nil {
			t.Fatal(err)
		}
		rec.inner = append(rec.inner, wr.data...)
	}
	if finish {
		_, priv := testKey()
		err = w.Finish(priv)
	} else {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func (r *recording) bytes() []byte { return r.buf.Bytes() }

// hourWrites is a synthetic one-hour session: one line every 100 ms.
func hourWrites() []write {
	ws := make([]write, 0, 36000)
	for i := range 36000 {
		at := time.Duration(i) * 100 * time.Millisecond
		ws = append(ws, write{at, fmt.Appendf(nil, "line %06d at %s: the quick brown fox\r\n", i, at)})
	}
	return ws
}

var (
	hourOnce     sync.Once
	hourFinished []byte
	hourCut      []byte
)

// hourRecordings returns the one-hour recording finished and cut.
func hourRecordings(t testing.TB) (finished, cut []byte) {
	hourOnce.Do(func() {
		ws := hourWrites()
		hourFinished = build(t, ws, time.Second, 0, true).bytes()
		hourCut = build(t, ws, time.Second, 0, false).bytes()
	})
	return hourFinished, hourCut
}

// readAtLog wraps a byte slice as an io.ReaderAt that logs every read.
type readAtLog struct {
	data  []byte
	mu    sync.Mutex
	reads []span
}

type span struct{ off, n int64 }

func (r *readAtLog) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	r.reads = append(r.reads, span{off, int64(len(p))})
	r.mu.Unlock()
	return bytes.NewReader(r.data).ReadAt(p, off)
}

// terminalStream generates a realistic terminal session of about n bytes:
// coloured shell prompts with typed commands echoed key by key, ls -l
// listings, timestamped log lines, ps output, git log, and progress lines
// redrawn with carriage returns. It returns writes one session time apart
// per chunk, as a terminal recorder would see them.
func terminalStream(seed uint64, n int) []write {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	users := []string{"alice", "bob", "deploy", "root"}
	hosts := []string{"web-01", "db-primary", "bastion", "worker-7"}
	dirs := []string{"~", "~/src/onepam", "/var/log", "/etc/nginx", "~/deploy/k8s"}
	words := []string{"config", "main", "server", "handler", "util", "index", "test", "README", "Makefile", "docker", "values", "backup", "report", "data", "cache"}
	exts := []string{".go", ".yaml", ".json", ".md", ".log", ".sh", ".py", ".tar.gz", ".conf", ""}
	levels := []string{"INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"}
	paths := []string{"/api/v1/users", "/api/v1/sessions", "/healthz", "/metrics", "/login", "/static/app.js"}
	cmds := []string{"ls -l", "tail -f app.log", "ps aux", "git log --oneline -n 8", "cat config.yaml", "make test", "kubectl get pods", "df -h"}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun"}

	var out []write
	at := time.Duration(0)
	emit := func(s string, gap time.Duration) {
		at += gap
		out = append(out, write{at, []byte(s)})
	}
	size := 0
	clockT := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	for size < n {
		user, host, dir := users[rng.IntN(len(users))], hosts[rng.IntN(len(hosts))], dirs[rng.IntN(len(dirs))]
		prompt := fmt.Sprintf("\x1b[01;32m%s@%s\x1b[00m:\x1b[01;34m%s\x1b[00m$ ", user, host, dir)
		emit(prompt, time.Duration(200+rng.IntN(2000))*time.Millisecond)
		cmd := cmds[rng.IntN(len(cmds))]
		for _, c := range cmd { // typed key by key, echoed
			emit(string(c), time.Duration(40+rng.IntN(160))*time.Millisecond)
		}
		emit("\r\n", 300*time.Millisecond)
		var b strings.Builder
		lines := 5 + rng.IntN(40)
		switch {
		case strings.HasPrefix(cmd, "ls"):
			fmt.Fprintf(&b, "total %d\r\n", rng.IntN(2000))
			for range lines {
				name := words[rng.IntN(len(words))] + fmt.Sprint("_", rng.IntN(100)) + exts[rng.IntN(len(exts))]
				if rng.IntN(5) == 0 {
					fmt.Fprintf(&b, "drwxr-xr-x  %d %s staff %8d %s %2d %02d:%02d \x1b[01;34m%s\x1b[0m\r\n", 2+rng.IntN(9), user, 4096, months[rng.IntN(6)], 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), name)
				} else {
					fmt.Fprintf(&b, "-rw-r--r--  1 %s staff %8d %s %2d %02d:%02d %s\r\n", user, rng.IntN(1<<20), months[rng.IntN(6)], 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), name)
				}
			}
		case strings.HasPrefix(cmd, "ps"):
			b.WriteString("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\r\n")
			for range lines {
				fmt.Fprintf(&b, "%-8s %8d %4.1f %4.1f %6d %5d ?        Ss   09:%02d   0:%02d /usr/bin/%s --%s\r\n", users[rng.IntN(4)], 1+rng.IntN(40000), rng.Float64()*20, rng.Float64()*10, rng.IntN(900000), rng.IntN(90000), rng.IntN(60), rng.IntN(60), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
			}
		case strings.HasPrefix(cmd, "git"):
			for range lines {
				fmt.Fprintf(&b, "\x1b[33m%07x\x1b[m %s: %s the %s %s\r\n", rng.Uint32()>>4, words[rng.IntN(len(words))], []string{"fix", "add", "refactor", "test"}[rng.IntN(4)], words[rng.IntN(len(words))], words[rng.IntN(len(words))])
			}
		case strings.HasPrefix(cmd, "make"), strings.HasPrefix(cmd, "kubectl"), strings.HasPrefix(cmd, "df"):
			for i := range lines {
				fmt.Fprintf(&b, "\r[%3d%%] building %s%s", (i+1)*100/lines, words[rng.IntN(len(words))], exts[rng.IntN(3)])
				if rng.IntN(4) == 0 {
					b.WriteString("\r\n")
				}
			}
			fmt.Fprintf(&b, "\r\n\x1b[32mok\x1b[0m  \tgithub.com/onepam/onepam/%s\t%.3fs\r\n", words[rng.IntN(len(words))], rng.Float64()*3)
		default: // tail -f, cat: log lines
			for range lines * 3 {
				clockT = clockT.Add(time.Duration(rng.IntN(900)) * time.Millisecond)
				lvl := levels[rng.IntN(len(levels))]
				color := map[string]string{"INFO ": "32", "DEBUG": "36", "WARN ": "33", "ERROR": "31"}[lvl]
				fmt.Fprintf(&b, "%s \x1b[%sm%s\x1b[0m [worker-%d] request_id=%016x method=%s path=%s/%d status=%d dur=%.1fms\r\n",
					clockT.Format("2006-01-02T15:04:05.000Z"), color, lvl, rng.IntN(8), rng.Uint64(), []string{"GET", "GET", "POST", "PUT"}[rng.IntN(4)], paths[rng.IntN(len(paths))], rng.IntN(10000), []int{200, 200, 200, 201, 304, 404, 500}[rng.IntN(7)], rng.Float64()*120)
			}
		}
		// Output arrives in terminal-sized reads.
		s := b.String()
		for len(s) > 0 {
			k := min(len(s), 512+rng.IntN(3584))
			emit(s[:k], time.Duration(rng.IntN(20))*time.Millisecond)
			s = s[k:]
		}
		size = 0
		for _, w := range out {
			size += len(w.data)
		}
	}
	return out
}

func joinWrites(ws []write) []byte {
	var b []byte
	for _, w := range ws {
		b = append(b, w.data...)
	}
	return b
}
