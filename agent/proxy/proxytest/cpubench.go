package proxytest

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy"
	"github.com/onepam/onepam/agent/spool"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/relay"
)

// The helpers below serve the proxies' CPU benchmarks (CPU per statement
// or request of the proxy alone, in the test process, against the real
// server as another process).

// ProcessCPU returns the user + system CPU time of this process.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PerfSyscalls counts this process's system calls with perf stat until the
// returned function is called, when ONEPAM_BENCH_PERF=1 (perf must be
// installed and allowed); it returns the counts by name ("read", "write",
// ...), or nil when not asked.
func PerfSyscalls(b *testing.B) func() map[string]int64 {
	if os.Getenv("ONEPAM_BENCH_PERF") != "1" {
		return func() map[string]int64 { return nil }
	}
	names := []string{"read", "write", "epoll_pwait", "futex", "nanosleep", "sched_yield", "getpid", "tgkill"}
	var events []string
	for _, n := range names {
		events = append(events, "syscalls:sys_enter_"+n)
	}
	var out bytes.Buffer
	cmd := exec.Command("perf", "stat", "-x", ",", "-e", strings.Join(events, ","), "-p", strconv.Itoa(os.Getpid()))
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("perf: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // perf attaches
	return func() map[string]int64 {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		calls := map[string]int64{}
		for _, line := range strings.Split(out.String(), "\n") {
			f := strings.Split(line, ",")
			if len(f) < 3 || !strings.HasPrefix(f[2], "syscalls:sys_enter_") {
				continue
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				b.Fatalf("perf output: %q", line)
			}
			calls[strings.TrimPrefix(f[2], "syscalls:sys_enter_")] = n
		}
		return calls
	}
}

// BenchSink is a recording in a real spool, as the agent writes it,
// counting the lines written (query log entries).
type BenchSink struct {
	*spool.Writer
	Lines atomic.Int64
}

// NewBenchSink creates session bench1's recording of type typ in a spool
// under b's temporary directory; it is finalised at cleanup.
func NewBenchSink(b *testing.B, typ api.SessionType) *BenchSink {
	sp, err := spool.Open(spool.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	w, err := sp.Create("bench1", api.RecordingFormatFor(typ))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Finalize(false) })
	return &BenchSink{Writer: w}
}

func (s *BenchSink) Write(p []byte) (int, error) {
	s.Lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	return s.Writer.Write(p)
}

// ServeDirect accepts loopback connections and hands each to s.ServeConn
// as the agent hands it a stream (raw socket calls; the ConnOpenResult
// frame, which control and the CLI consume, dropped). It returns the
// address to connect to; s is closed at cleanup.
func ServeDirect(b *testing.B, s proxy.Session) string {
	b.Cleanup(func() { s.Close() }) // after ServeTCP's (cleanups run last first)
	var id atomic.Int64
	return ServeTCP(b, func(c net.Conn) {
		s.ServeConn(context.Background(), &dropFirstFrame{Conn: relay.Raw(c)}, api.ConnOpen{SessionID: "bench1", ConnID: id.Add(1)})
	})
}

// SpliceTo is a plain TCP relay to addr with raw socket calls
// (relay.Splice): no parsing, no log. Its CPU per transaction is the floor
// of any relay built of two goroutines per connection.
func SpliceTo(b *testing.B, addr string) string {
	return ServeTCP(b, func(c net.Conn) {
		t, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		_ = relay.Splice(relay.Raw(c), relay.Raw(t), nil, nil)
	})
}

// dropFirstFrame swallows the first write, the ConnOpenResult frame.
type dropFirstFrame struct {
	net.Conn
	seen bool
}

func (d *dropFirstFrame) Write(p []byte) (int, error) {
	if !d.seen {
		d.seen = true
		if len(p) >= 4 && int(binary.BigEndian.Uint32(p)) == len(p)-4 {
			return len(p), nil
		}
	}
	return d.Conn.Write(p)
}
