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

// terminalStream generates a realistic terminal session of about n bytes,
// as a terminal recorder sees it: coloured shell prompts with commands
// typed and echoed key by key, then the command's output in terminal-sized
// reads. Like a real session it works in a few directories whose contents
// barely change (ls -l shows the same files, ps the same processes, git
// log the same commits, make test the same packages with new timings),
// while log tails bring new timestamped lines with random request ids,
// status codes and durations, and progress lines are redrawn with "\r".
func terminalStream(seed uint64, n int) []write {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	user, host := "alice", "web-01"
	words := []string{"config", "main", "server", "handler", "util", "index", "store", "README", "Makefile", "docker", "values", "backup", "report", "session", "cache", "agent", "policy", "audit"}
	exts := []string{".go", ".yaml", ".json", ".md", ".log", ".sh", ".py", ".tar.gz", ".conf", "_test.go"}
	months := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun"}

	// Fixed world: directories with their listings, a process table, commits.
	dirs := []string{"~", "~/src/onepam", "/var/log/app", "/etc/nginx", "~/deploy/k8s"}
	listings := map[string][]string{}
	for _, d := range dirs {
		var ls []string
		for range 8 + rng.IntN(20) {
			name := pick(words) + pick(exts)
			if rng.IntN(5) == 0 {
				ls = append(ls, fmt.Sprintf("drwxr-xr-x  %d %s staff %8d %s %2d %02d:%02d \x1b[01;34m%s\x1b[0m\r\n", 2+rng.IntN(9), user, 4096, pick(months), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), pick(words)))
			} else {
				ls = append(ls, fmt.Sprintf("-rw-r--r--  1 %s staff %8d %s %2d %02d:%02d %s\r\n", user, rng.IntN(1<<20), pick(months), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), name))
			}
		}
		listings[d] = ls
	}
	type proc struct {
		user, cmd string
		pid, vsz  int
	}
	var procs []proc
	for range 25 {
		procs = append(procs, proc{pick([]string{"root", "root", "www-data", user, "postgres"}), "/usr/bin/" + pick(words) + " --" + pick(words), 1 + rng.IntN(40000), rng.IntN(900000)})
	}
	var commits []string
	for range 40 {
		commits = append(commits, fmt.Sprintf("\x1b[33m%07x\x1b[m %s: %s the %s %s\r\n", rng.Uint32()>>4, pick(words), pick([]string{"fix", "add", "refactor", "test"}), pick(words), pick(words)))
	}
	var pkgs []string
	for range 20 {
		pkgs = append(pkgs, "github.com/onepam/onepam/"+pick(words)+"/"+pick(words))
	}
	pods := []string{}
	for range 12 {
		pods = append(pods, fmt.Sprintf("%s-%s-%05x", pick(words), pick(words), rng.IntN(1<<20)))
	}
	paths := []string{"/api/v1/users", "/api/v1/sessions", "/healthz", "/metrics", "/login", "/static/app.js"}
	levels := []string{"INFO ", "INFO ", "INFO ", "DEBUG", "WARN ", "ERROR"}
	colors := map[string]string{"INFO ": "32", "DEBUG": "36", "WARN ": "33", "ERROR": "31"}
	cmds := []string{"ls -l", "ls -l", "tail -n 40 app.log", "tail -n 40 app.log", "ps aux", "git log --oneline -n 15", "make test", "kubectl get pods", "cd"}

	var out []write
	at := time.Duration(0)
	size := 0
	emit := func(s string, gap time.Duration) {
		at += gap
		out = append(out, write{at, []byte(s)})
		size += len(s)
	}
	clockT := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	dir := dirs[0]
	for size < n {
		emit(fmt.Sprintf("\x1b[01;32m%s@%s\x1b[00m:\x1b[01;34m%s\x1b[00m$ ", user, host, dir), time.Duration(200+rng.IntN(3000))*time.Millisecond)
		cmd := pick(cmds)
		if cmd == "cd" {
			dir = pick(dirs)
			cmd = "cd " + dir
		}
		for _, c := range cmd { // typed key by key, echoed
			emit(string(c), time.Duration(40+rng.IntN(160))*time.Millisecond)
		}
		emit("\r\n", 300*time.Millisecond)
		var b strings.Builder
		switch {
		case strings.HasPrefix(cmd, "ls"):
			fmt.Fprintf(&b, "total %d\r\n", 8*len(listings[dir]))
			for _, l := range listings[dir] {
				b.WriteString(l)
			}
		case strings.HasPrefix(cmd, "ps"):
			b.WriteString("USER         PID %CPU %MEM    VSZ   RSS TTY      STAT START   TIME COMMAND\r\n")
			for _, p := range procs {
				fmt.Fprintf(&b, "%-8s %8d %4.1f %4.1f %6d %5d ?        Ss   09:00   0:%02d %s\r\n", p.user, p.pid, rng.Float64()*5, 1.5, p.vsz, p.vsz/10, rng.IntN(60), p.cmd)
			}
		case strings.HasPrefix(cmd, "git"):
			for _, c := range commits[:15] {
				b.WriteString(c)
			}
		case strings.HasPrefix(cmd, "make"):
			for i, p := range pkgs {
				fmt.Fprintf(&b, "\r[%3d%%] testing %s", (i+1)*100/len(pkgs), p)
				if rng.IntN(3) == 0 {
					fmt.Fprintf(&b, "\r\n\x1b[32mok\x1b[0m  \t%s\t%.3fs\r\n", p, rng.Float64()*3)
				}
			}
			b.WriteString("\r\nPASS\r\n")
		case strings.HasPrefix(cmd, "kubectl"):
			b.WriteString("NAME                                READY   STATUS    RESTARTS   AGE\r\n")
			for _, p := range pods {
				fmt.Fprintf(&b, "%-35s 1/1     Running   %d          %dd\r\n", p, rng.IntN(3), 1+rng.IntN(30))
			}
		case strings.HasPrefix(cmd, "tail"):
			for range 40 {
				clockT = clockT.Add(time.Duration(rng.IntN(900)) * time.Millisecond)
				lvl := pick(levels)
				fmt.Fprintf(&b, "%s \x1b[%sm%s\x1b[0m [worker-%d] request_id=%016x method=%s path=%s/%d status=%d dur=%.1fms\r\n",
					clockT.Format("2006-01-02T15:04:05.000Z"), colors[lvl], lvl, rng.IntN(8), rng.Uint64(), pick([]string{"GET", "GET", "POST", "PUT"}), pick(paths), rng.IntN(10000), []int{200, 200, 200, 201, 304, 404, 500}[rng.IntN(7)], rng.Float64()*120)
			}
		}
		// Output arrives in terminal-sized reads.
		s := b.String()
		for len(s) > 0 {
			k := min(len(s), 512+rng.IntN(3584))
			emit(s[:k], time.Duration(rng.IntN(20))*time.Millisecond)
			s = s[k:]
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
