package querylog

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ and the fuzz seeds")

// goldenEntries is one of each kind, as the proxies write them.
func goldenEntries() []Entry {
	return []Entry{
		{T: 0.001234, Conn: 1, Database: "app", User: "alice", Kind: KindQuery, Statement: "select 1", Duration: 0.000412, Rows: 1, Tag: "SELECT 1"},
		{T: 0.5, Conn: 1, Database: "app", User: "alice", Kind: KindQuery, Statement: "selec 1", Duration: 0.0002, Rows: -1, ErrorCode: "42601", Error: `syntax error at or near "selec"`},
		{T: 1, Conn: 2, Database: "app", User: "alice", Kind: KindPrepare, Name: "stmt1", Statement: "select $1::int, $2::text", Rows: -1},
		{T: 1.25, Conn: 2, Database: "app", User: "alice", Kind: KindExecute, Name: "stmt1", Statement: "select $1::int, $2::text", Params: []any{int64(42), "héllo", true, 2.5, nil, []byte{0xde, 0xad}, "2024-01-02T03:04:05Z"}, Duration: 0.0011, Rows: 1, Tag: "SELECT 1"},
		{T: 2, Conn: 2, Kind: KindCopyIn, Statement: "copy t from stdin", Rows: 3, Bytes: 18, Tag: "COPY 3", Duration: 0.01},
		{T: 2.5, Conn: 2, Kind: KindCopyOut, Statement: "copy t to stdout", Rows: 3, Bytes: 18, Tag: "COPY 3"},
		{T: 3, Conn: 2, Kind: KindBind, Name: "s2", Params: []any{"x"}, Rows: -1},
		{T: 3, Conn: 2, Kind: KindClose, Name: "stmt1", Rows: -1},
		{T: 3, Conn: 3, Kind: KindReset, Name: "7", Rows: -1},
		{T: 3, Conn: 3, Kind: KindInitDB, Database: "other", Rows: -1},
		{T: 3, Conn: 3, Kind: KindPing, Rows: -1},
		{T: 4, Conn: 4, Kind: KindCancel, Statement: "select pg_sleep(30)", Rows: -1},
		{T: 5, Conn: 4, Kind: KindError, Error: "client sent a malformed message: length 2147483647 too long", Rows: -1},
		{T: 6, Conn: 2, Kind: KindQuit, Rows: -1},
	}
}

func encodeAll(t testing.TB, es []Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for _, e := range es {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func decodeAll(t testing.TB, data []byte) []Entry {
	t.Helper()
	d := NewDecoder(bytes.NewReader(data))
	var out []Entry
	for {
		e, err := d.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, e)
	}
}

func TestGolden(t *testing.T) {
	got := encodeAll(t, goldenEntries())
	path := filepath.Join("testdata", "golden.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		writeSeed(t, "golden", got)
		writeSeed(t, "golden-cut", got[:len(got)*2/3])
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding differs from %s (run go test -update after checking):\n%s", path, got)
	}
	back := decodeAll(t, want)
	if len(back) != len(goldenEntries()) {
		t.Fatalf("decoded %d entries, want %d", len(back), len(goldenEntries()))
	}
	ex := back[3]
	wantParams := []any{json.Number("42"), "héllo", true, json.Number("2.5"), nil, `\xdead`, "2024-01-02T03:04:05Z"}
	if fmt.Sprint(ex.Params) != fmt.Sprint(wantParams) {
		t.Fatalf("params = %#v, want %#v", ex.Params, wantParams)
	}
	if back[1].ErrorCode != "42601" || back[1].Rows != -1 || back[4].Bytes != 18 || back[0].Tag != "SELECT 1" {
		t.Fatalf("fields lost: %+v", back[:5])
	}
}

func writeSeed(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
	if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParamLimits(t *testing.T) {
	long := strings.Repeat("é", MaxParamLen) // 2 bytes each
	blob := bytes.Repeat([]byte{0xab}, MaxParamLen)
	many := make([]any, MaxParams+5)
	tests := []struct {
		name   string
		params []any
		check  func(t *testing.T, got []any)
	}{
		{"long string cut on a rune boundary", []any{long}, func(t *testing.T, got []any) {
			s := got[0].(string)
			want := "…[truncated " + fmt.Sprint(len(long)) + " bytes]"
			if !strings.HasSuffix(s, want) || len(s) > MaxParamLen+len(want) || !strings.HasPrefix(s, "éé") {
				t.Fatalf("got %d bytes ending %q", len(s), s[len(s)-40:])
			}
			if !json.Valid([]byte(fmt.Sprintf("%q", s))) || strings.ContainsRune(s, '\uFFFD') {
				t.Fatal("cut inside a character")
			}
		}},
		{"short string kept", []any{"abc"}, func(t *testing.T, got []any) {
			if got[0] != "abc" {
				t.Fatalf("got %v", got[0])
			}
		}},
		{"bytes as hex, cut", []any{blob}, func(t *testing.T, got []any) {
			s := got[0].(string)
			if !strings.HasPrefix(s, `\xabab`) || !strings.HasSuffix(s, "…[truncated 8194 bytes]") {
				t.Fatalf("got %q…", s[:20])
			}
		}},
		{"too many params", many, func(t *testing.T, got []any) {
			if len(got) != MaxParams+1 || got[MaxParams] != "…[5 more parameters]" {
				t.Fatalf("got %d params, last %v", len(got), got[len(got)-1])
			}
		}},
		{"non-finite floats", []any{math.NaN(), math.Inf(1), float32(math.Inf(-1))}, func(t *testing.T, got []any) {
			if fmt.Sprint(got) != "[NaN Infinity -Infinity]" {
				t.Fatalf("got %v", got)
			}
		}},
		{"stringer", []any{time.Duration(1500) * time.Millisecond}, func(t *testing.T, got []any) {
			if got[0] != "1.5s" {
				t.Fatalf("got %v", got[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := decodeAll(t, encodeAll(t, []Entry{{Kind: KindExecute, Params: tt.params}}))
			tt.check(t, back[0].Params)
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []error // per Next call until io.EOF (nil = an entry)
	}{
		{"blank lines and unknown keys", "\n{\"kind\":\"query\",\"future\":[1]}\n\n  \n", []error{nil}},
		{"not an object", "[1,2]\n{\"kind\":\"ping\"}\n", []error{ErrMalformed, nil}},
		{"bad json", "{\"kind\":\n", []error{ErrMalformed}},
		{"no kind", "{\"t\":1}\n", []error{ErrMalformed}},
		{"wrong type", "{\"kind\":\"query\",\"rows\":\"x\"}\n", []error{ErrMalformed}},
		{"trailing data", "{\"kind\":\"query\"} {}\n", []error{ErrMalformed}},
		{"cut last line", "{\"kind\":\"query\"}\n{\"kind\":\"qu", []error{nil, ErrTruncated}},
		{"complete last line without newline", "{\"kind\":\"query\"}", []error{ErrTruncated}},
		{"too long", "{\"kind\":\"query\",\"statement\":\"" + strings.Repeat("x", MaxLineSize) + "\"}\n{\"kind\":\"ping\"}\n", []error{ErrLineTooLong, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tt.input))
			for i, want := range tt.want {
				_, err := d.Next()
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					t.Fatalf("call %d: err = %v, want %v", i, err, want)
				}
				if errors.Is(err, ErrTruncated) {
					return
				}
			}
			if _, err := d.Next(); err != io.EOF {
				t.Fatalf("after the expected results: %v, want EOF", err)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	data := encodeAll(t, goldenEntries())
	s, err := Summarize(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	// statements: query, query(err), execute, copy_in, copy_out = 5;
	// errors: the syntax error and the error entry; rows 1+1+3+3.
	want := Summary{Statements: 5, Errors: 2, Rows: 8}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	damaged := append([]byte("garbage\n"), data...)
	damaged = append(damaged, `{"kind":"query","rows":`...)
	s, err = Summarize(bytes.NewReader(damaged))
	if !errors.Is(err, ErrMalformed) || s != want {
		t.Fatalf("damaged: %+v, %v; want %+v and ErrMalformed", s, err, want)
	}
}

// TestEncoderConcurrent checks that concurrent Encode calls never
// interleave: every Write is one whole line.
func TestEncoderConcurrent(t *testing.T) {
	w := &lineWriter{}
	enc := NewEncoder(w)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if err := enc.Encode(Entry{Conn: g, Kind: KindQuery, Statement: strings.Repeat("x", i*10), Rows: int64(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if w.bad != 0 || w.writes != 1600 {
		t.Fatalf("%d writes, %d not a single whole line", w.writes, w.bad)
	}
	if got := len(decodeAll(t, w.buf.Bytes())); got != 1600 {
		t.Fatalf("decoded %d entries", got)
	}
}

type lineWriter struct {
	mu          sync.Mutex
	buf         bytes.Buffer
	writes, bad int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	if bytes.IndexByte(p, '\n') != len(p)-1 {
		w.bad++
	}
	return w.buf.Write(p)
}

func TestEncodeWriteError(t *testing.T) {
	enc := NewEncoder(failWriter{})
	if err := enc.Encode(Entry{Kind: KindPing}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func BenchmarkEncode(b *testing.B) {
	enc := NewEncoder(io.Discard)
	e := Entry{T: 1.5, Conn: 1, Database: "app", User: "u", Kind: KindExecute, Statement: "select * from t where id = $1", Params: []any{int64(7)}, Duration: 0.0003, Rows: 1, Tag: "SELECT 1"}
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}
