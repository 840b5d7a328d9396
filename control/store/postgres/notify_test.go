package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
)

// TestNotifyListen checks NOTIFY and LISTEN between two stores (control
// nodes) on one database: a listener gets every payload in order, its
// own store's too, and only its channel's; a killed listening connection
// ends Listen with an error; a cancelled one with ctx.Err(); the pool
// keeps serving after both.
func TestNotifyListen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var ss [2]*postgres.Store
	for i := range ss {
		s, err := postgres.Open(t.Context(), url)
		mustT(t, err)
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	a, b := ss[0], ss[1]

	type listening struct {
		pids     chan uint32
		payloads chan string
		done     chan error
		cancel   context.CancelFunc
	}
	listen := func(s *postgres.Store, channel string) *listening {
		ctx, cancel := context.WithCancel(t.Context())
		l := &listening{pids: make(chan uint32, 1), payloads: make(chan string, 16), done: make(chan error, 1), cancel: cancel}
		go func() {
			l.done <- s.Listen(ctx, channel, func(pid uint32) { l.pids <- pid }, func(p string) { l.payloads <- p })
		}()
		t.Cleanup(func() {
			cancel()
			<-l.done
		})
		return l
	}
	wait := func(what string, ch <-chan string) string {
		t.Helper()
		select {
		case v := <-ch:
			return v
		case <-time.After(15 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
		return ""
	}
	waitPID := func(l *listening) uint32 {
		t.Helper()
		select {
		case pid := <-l.pids:
			return pid
		case err := <-l.done:
			t.Fatalf("Listen ended before listening: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatal("timed out waiting for Listen to listen")
		}
		return 0
	}

	l := listen(b, "events_test")
	pid := waitPID(l)
	other := listen(b, "other_channel")
	waitPID(other)

	t.Run("payloads in order, from both stores, on the channel only", func(t *testing.T) {
		want := []string{`{"n":1}`, "two", strings.Repeat("x", 7000)}
		mustT(t, a.Notify(t.Context(), "events_test", want[0]))
		mustT(t, a.Notify(t.Context(), "other_channel", "elsewhere"))
		mustT(t, b.Notify(t.Context(), "events_test", want[1]))
		mustT(t, a.Notify(t.Context(), "events_test", want[2]))
		for i, w := range want {
			if got := wait("payload", l.payloads); got != w {
				t.Fatalf("payload %d: %.40q, want %.40q", i, got, w)
			}
		}
		if got := wait("payload on the other channel", other.payloads); got != "elsewhere" {
			t.Fatalf("other channel got %q", got)
		}
	})

	t.Run("a killed connection ends Listen with an error", func(t *testing.T) {
		conn, err := pgx.Connect(t.Context(), url)
		mustT(t, err)
		defer conn.Close(context.Background())
		var ok bool
		mustT(t, conn.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&ok))
		if !ok {
			t.Fatalf("pg_terminate_backend(%d) = false", pid)
		}
		select {
		case err := <-l.done:
			if err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("Listen returned %v, want the connection's error", err)
			}
			l.done <- err // for the cleanup
		case <-time.After(15 * time.Second):
			t.Fatal("Listen did not return after its connection was killed")
		}
		// The pool still works, and a new Listen listens on another
		// connection.
		again := listen(b, "events_test")
		if p := waitPID(again); p == pid {
			t.Fatalf("listening again on the killed connection %d", p)
		}
		mustT(t, b.Notify(t.Context(), "events_test", "after"))
		if got := wait("payload after the kill", again.payloads); got != "after" {
			t.Fatalf("got %q, want after", got)
		}
	})

	t.Run("cancel ends Listen with ctx.Err()", func(t *testing.T) {
		other.cancel()
		select {
		case err := <-other.done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Listen returned %v, want context.Canceled", err)
			}
			other.done <- err
		case <-time.After(15 * time.Second):
			t.Fatal("Listen did not return after cancel")
		}
	})
}
