package asciicast

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"
)

var testHeader = Header{
	Width: 80, Height: 24, Timestamp: 1700000000,
	Env:       map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
	Title:     "demo",
	SessionID: "0197a000-0000-7000-8000-000000000001", User: "alice", Resource: "web-1", Login: "root",
}

func TestRecorderRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
		want Record
	}{
		{"output", func() error { return r.Output(10*time.Millisecond, []byte("hello\r\n")) }, Record{Type: TypeOutput, Time: 10 * time.Millisecond, Data: []byte("hello\r\n")}},
		{"input", func() error { return r.Input(1500*time.Millisecond, []byte("l")) }, Record{Type: TypeInput, Time: 1500 * time.Millisecond, Data: []byte("l")}},
		{"earlier time clamped", func() error { return r.Output(time.Second, []byte{0, 0xff}) }, Record{Type: TypeOutput, Time: 1500 * time.Millisecond, Data: []byte{0, 0xff}}},
		{"resize", func() error { return r.Resize(2*time.Second, 132, 43) }, Record{Type: TypeResize, Time: 2 * time.Second, Cols: 132, Rows: 43}},
		{"marker", func() error { return r.Marker(3*time.Second, "session terminated") }, Record{Type: TypeMarker, Time: 3 * time.Second, Data: []byte("session terminated")}},
		{"negative time", func() error { return r.Output(-time.Second, []byte("z")) }, Record{Type: TypeOutput, Time: 3 * time.Second, Data: []byte("z")}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := r.Output(time.Hour, nil); err != nil { // empty: records nothing
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if h := rd.Header(); h.SessionID != testHeader.SessionID || h.Width != 80 || h.Env["TERM"] != "xterm-256color" || h.Login != "root" {
		t.Fatalf("header = %+v", h)
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := rd.Next()
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != s.want.Type || got.Time != s.want.Time || !bytes.Equal(got.Data, s.want.Data) || got.Cols != s.want.Cols || got.Rows != s.want.Rows {
				t.Fatalf("got %+v, want %+v", got, s.want)
			}
		})
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}
}

func TestRecorderSplitsLargeWrites(t *testing.T) {
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, testHeader)
	big := bytes.Repeat([]byte("x"), 2*MaxEventSize+5)
	if err := r.Output(time.Second, big); err != nil {
		t.Fatal(err)
	}
	r.Close()
	rd, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for n := 0; ; n++ {
		rec, err := rd.Next()
		if err == io.EOF {
			if n != 3 {
				t.Fatalf("%d events, want 3", n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Time != time.Second {
			t.Fatalf("event %d at %v", n, rec.Time)
		}
		got = append(got, rec.Data...)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("payload differs")
	}
}

func TestRecorderConcurrent(t *testing.T) {
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, testHeader)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				var err error
				if g%2 == 0 {
					err = r.Output(time.Duration(i)*time.Millisecond, []byte("out"))
				} else {
					err = r.Input(time.Duration(i)*time.Millisecond, []byte("in"))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r.Close()
	rd, _ := NewReader(&buf)
	n, prev := 0, time.Duration(0)
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.Time < prev {
			t.Fatalf("time went back: %v after %v", rec.Time, prev)
		}
		prev = rec.Time
		n++
	}
	if n != 4000 {
		t.Fatalf("%d events, want 4000", n)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRecorderErrors(t *testing.T) {
	t.Run("write error sticks", func(t *testing.T) {
		r, err := NewRecorder(failWriter{}, testHeader)
		if err != nil {
			t.Fatal(err) // buffered: nothing written yet
		}
		if err := r.Flush(); err == nil {
			t.Fatal("Flush to a failing writer succeeded")
		}
		if err := r.Output(0, []byte("x")); err == nil {
			t.Fatal("Output after a write error succeeded")
		}
		if err := r.Close(); err == nil {
			t.Fatal("Close after a write error succeeded")
		}
	})
	t.Run("use after close", func(t *testing.T) {
		r, _ := NewRecorder(io.Discard, testHeader)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Output(0, []byte("x")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Output after Close: %v", err)
		}
		if err := r.Flush(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Flush after Close: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("negative resize", func(t *testing.T) {
		r, _ := NewRecorder(io.Discard, testHeader)
		if err := r.Resize(0, -1, 5); err == nil {
			t.Fatal("negative resize accepted")
		}
	})
}

func TestExportBasic(t *testing.T) {
	var buf bytes.Buffer
	r, _ := NewRecorder(&buf, testHeader)
	r.Output(250*time.Millisecond, []byte("caf\xc3"))
	r.Output(500*time.Millisecond, []byte("\xa9 \x1b[1mok\x1b[0m\r\n"))
	r.Input(time.Second, []byte("\"\\\x7f\x00"))
	r.Resize(1500*time.Millisecond, 100, 30)
	r.Close()
	var out bytes.Buffer
	if err := Export(&out, &buf); err != nil {
		t.Fatal(err)
	}
	want := `{"version": 2, "width": 80, "height": 24, "timestamp": 1700000000, "title": "demo", "env": {"SHELL": "/bin/bash", "TERM": "xterm-256color"}, "onepam": {"session_id": "0197a000-0000-7000-8000-000000000001", "user": "alice", "resource": "web-1", "login": "root"}}
[0.250000, "o", "caf"]
[0.500000, "o", "é \u001b[1mok\u001b[0m\r\n"]
[1.000000, "i", "\"\\` + "\x7f" + `\u0000"]
[1.500000, "r", "100x30"]
`
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestRecorderFlushMakesEventsReadable(t *testing.T) {
	var buf bytes.Buffer
	r, err := NewRecorder(&buf, testHeader)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Output(time.Second, []byte("live")); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes written before Flush, want them buffered", buf.Len())
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := rd.Next()
	if err != nil || string(rec.Data) != "live" || rec.Time != time.Second {
		t.Fatalf("after Flush: %+v, %v", rec, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("after the flushed event: %v", err)
	}
}
