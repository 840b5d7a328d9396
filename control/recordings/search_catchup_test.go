package recordings

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// recLines is how many lines each test recording has ("line <i> of
// <tag>"); indexed recLines/2 at a time (testBatch), a recording takes
// two AddRecordingText and one FinishRecordingText.
const (
	recLines  = 10
	testBatch = 4
)

// indexEnv is a control's data: its database file and its recordings
// directory. Each start opens the database again.
type indexEnv struct {
	dbPath string
	dir    *Dir
	st     *sqlite.Store
}

func newIndexEnv(t *testing.T) *indexEnv {
	t.Helper()
	root := t.TempDir()
	d, err := NewDir(filepath.Join(root, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	e := &indexEnv{dbPath: filepath.Join(root, "onepam.db"), dir: d}
	e.reopen(t)
	t.Cleanup(func() { e.st.Close() })
	return e
}

// reopen closes the database and opens it again, as a new control does.
func (e *indexEnv) reopen(t *testing.T) {
	t.Helper()
	if e.st != nil {
		e.st.Close()
	}
	st, err := sqlite.Open(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
}

// recording creates a session whose final terminal recording has
// recLines lines tagged tag; with stored false the recording's data is
// gone (expired, deleted) but the session still says it is final.
func (e *indexEnv) recording(t *testing.T, tag string, at time.Time, stored bool) string {
	t.Helper()
	return finalRecording(t, e.st, e.dir, tag, at, stored)
}

// tagLines are the lines of the recording tagged tag.
func tagLines(tag string) []store.TextLine {
	ls := make([]store.TextLine, recLines)
	for i := range ls {
		ls[i] = store.TextLine{At: time.Duration(i+1) * time.Second, Text: fmt.Sprintf("line %d of %s", i, tag)}
	}
	return ls
}

// found returns how many times the search for "of <tag>" finds each line.
func (e *indexEnv) found(t *testing.T, tag string) map[string]int {
	t.Helper()
	hits, err := e.st.SearchRecordings(context.Background(), store.SearchQuery{Text: "of " + tag, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, h := range hits {
		n[h.Line]++
	}
	return n
}

// eachOnce reports whether the search finds every line of tag exactly
// once and nothing else.
func (e *indexEnv) eachOnce(t *testing.T, tag string) error {
	t.Helper()
	got := e.found(t, tag)
	for _, l := range tagLines(tag) {
		if got[l.Text] != 1 {
			return fmt.Errorf("%q found %d times, want once (all: %v)", l.Text, got[l.Text], got)
		}
	}
	if len(got) != recLines {
		return fmt.Errorf("found %v, want the %d lines of %s", got, recLines, tag)
	}
	return nil
}

// stopMidIndexing leaves what a control stopped while it indexed a
// recording leaves: an attempt begun, half the lines added, no mark.
func (e *indexEnv) stopMidIndexing(t *testing.T, id, tag string) {
	t.Helper()
	ctx := context.Background()
	ti, ok, err := e.st.BeginRecordingText(ctx, id)
	if !ok || err != nil {
		t.Fatalf("begin: %v %v", ok, err)
	}
	if err := e.st.AddRecordingText(ctx, &ti, tagLines(tag)[:recLines/2]); err != nil {
		t.Fatal(err)
	}
}

// opener is the recordings directory with opens counted and failures
// injected, and optionally held until released.
type opener struct {
	Opener
	mu    sync.Mutex
	opens map[string]int
	fail  func(sessionID string, n int) error // n: 1 for the first open
	hold  chan struct{}                       // when set, Open waits for it to close
	held  chan string                         // told the session of each held Open
}

func newOpener(o Opener) *opener { return &opener{Opener: o, opens: map[string]int{}} }

func (o *opener) Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error) {
	o.mu.Lock()
	o.opens[sessionID]++
	n := o.opens[sessionID]
	o.mu.Unlock()
	if o.hold != nil {
		o.held <- sessionID
		select {
		case <-o.hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if o.fail != nil {
		if err := o.fail(sessionID, n); err != nil {
			return nil, err
		}
	}
	return o.Opener.Open(ctx, sessionID, format)
}

func (o *opener) count(sessionID string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.opens[sessionID]
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// has reports whether a line has msg, level and session_id id.
func (b *logBuffer) has(level, msg, id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		var rec struct {
			Level, Msg string
			SessionID  string `json:"session_id"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Level == level && rec.Msg == msg && rec.SessionID == id {
			return true
		}
	}
	return false
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start is a new control's indexer on e (its database opened again).
func (e *indexEnv) start(t *testing.T, o Opener, logs io.Writer) *Indexer {
	t.Helper()
	e.reopen(t)
	ix, err := NewIndexer(IndexerConfig{Recordings: o, Index: e.st, Batch: testBatch,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ix.Close)
	return ix
}

var errFlaky = errors.New("bucket unreachable")

// TestCatchUp: what a control left behind, then the catch-ups of the
// next starts (each a new indexer on the database opened again).
func TestCatchUp(t *testing.T) {
	type run struct {
		res   CatchUpResult
		opens int    // opens of the recording so far
		log   string // level and message of its slog line ("" none)
		text  bool   // its lines are found, each once (else none)
	}
	tests := []struct {
		name string
		// left prepares the recording id (tagged tag) as the stopped
		// control left it.
		left func(t *testing.T, e *indexEnv, id, tag string)
		fail func(sessionID string, n int) error
		gone bool // the recording's data is gone
		runs []run
	}{
		{"stopped mid-indexing", func(t *testing.T, e *indexEnv, id, tag string) {
			e.stopMidIndexing(t, id, tag)
		}, nil, false, []run{
			{CatchUpResult{Indexed: 1}, 1, "INFO recording text caught up", true},
			{CatchUpResult{}, 1, "", true},
		}},
		{"stopped before indexing", nil, nil, false, []run{
			{CatchUpResult{Indexed: 1}, 1, "INFO recording text caught up", true},
			{CatchUpResult{}, 1, "", true},
		}},
		{"stopped mid-indexing twice", func(t *testing.T, e *indexEnv, id, tag string) {
			e.stopMidIndexing(t, id, tag)
			e.stopMidIndexing(t, id, tag)
		}, nil, false, []run{
			{CatchUpResult{Indexed: 1}, 1, "INFO recording text caught up", true},
		}},
		{"stopped during each of 3 attempts", func(t *testing.T, e *indexEnv, id, tag string) {
			for range 3 {
				e.stopMidIndexing(t, id, tag)
			}
		}, nil, false, []run{
			{CatchUpResult{GaveUp: 1}, 0, "ERROR recording text not indexed; giving up", false},
			{CatchUpResult{}, 0, "", false},
		}},
		{"indexed already", func(t *testing.T, e *indexEnv, id, tag string) {
			if err := e.st.IndexRecordingText(context.Background(), id, tagLines(tag)); err != nil {
				t.Fatal(err)
			}
		}, nil, false, []run{
			{CatchUpResult{}, 0, "", true},
		}},
		{"recording gone", nil, nil, true, []run{
			{CatchUpResult{Missing: 1}, 1, "WARN recording text not indexed: the recording is gone; not tried again", false},
			{CatchUpResult{}, 1, "", false},
		}},
		{"recording gone mid-indexing", func(t *testing.T, e *indexEnv, id, tag string) {
			e.stopMidIndexing(t, id, tag)
		}, nil, true, []run{
			{CatchUpResult{Missing: 1}, 1, "WARN recording text not indexed: the recording is gone; not tried again", false},
			{CatchUpResult{}, 1, "", false},
		}},
		{"storage unreachable once", nil, func(_ string, n int) error {
			if n == 1 {
				return errFlaky
			}
			return nil
		}, false, []run{
			{CatchUpResult{Failed: 1}, 1, "ERROR index recording text; tried again at the next start", false},
			{CatchUpResult{Indexed: 1}, 2, "INFO recording text caught up", true},
		}},
		{"storage unreachable for good", nil, func(string, int) error { return errFlaky }, false, []run{
			{CatchUpResult{Failed: 1}, 1, "ERROR index recording text; tried again at the next start", false},
			{CatchUpResult{Failed: 1}, 2, "ERROR index recording text; tried again at the next start", false},
			{CatchUpResult{Failed: 1}, 3, "ERROR index recording text; giving up", false},
			{CatchUpResult{}, 3, "", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newIndexEnv(t)
			now := time.Now()
			id := e.recording(t, "rec", now, !tc.gone)
			// An older recording indexed by the previous control, and one
			// it never got to: neither is disturbed, the second is
			// indexed at the first start.
			done := e.recording(t, "done", now.Add(-2*time.Hour), true)
			if err := e.st.IndexRecordingText(context.Background(), done, tagLines("done")); err != nil {
				t.Fatal(err)
			}
			e.recording(t, "todo", now.Add(-time.Hour), true)
			if tc.left != nil {
				tc.left(t, e, id, "rec")
			}
			o := newOpener(e.dir)
			o.fail = func(sessionID string, n int) error {
				if sessionID == id && tc.fail != nil {
					return tc.fail(sessionID, n)
				}
				return nil
			}
			for i, want := range tc.runs {
				var logs logBuffer
				ix := e.start(t, o, &logs)
				res, err := ix.CatchUp(context.Background())
				if err != nil {
					t.Fatalf("start %d: %v", i+1, err)
				}
				if i == 0 {
					want.res.Indexed++ // "todo"
				}
				if res != want.res {
					t.Errorf("start %d: %+v, want %+v\n%s", i+1, res, want.res, logs.String())
				}
				if n := o.count(id); n != want.opens {
					t.Errorf("start %d: recording opened %d times in all, want %d", i+1, n, want.opens)
				}
				if want.log != "" {
					level, msg, _ := strings.Cut(want.log, " ")
					if !logs.has(level, msg, id) {
						t.Errorf("start %d: no %s line %q for the recording in\n%s", i+1, level, msg, logs.String())
					}
				}
				if err := e.eachOnce(t, "rec"); want.text && err != nil {
					t.Errorf("start %d: %v", i+1, err)
				} else if got := e.found(t, "rec"); !want.text && len(got) > 0 {
					t.Errorf("start %d: found %v, want nothing", i+1, got)
				}
				for _, tag := range []string{"done", "todo"} {
					if err := e.eachOnce(t, tag); err != nil {
						t.Errorf("start %d: %v", i+1, err)
					}
				}
			}
		})
	}
}

// waitFor waits until cond holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSearchDuringCatchUp: while the catch-up of a new control is in the
// middle of a recording (held in Open), search answers: recordings
// indexed before are found, each line once, and the one being indexed
// shows nothing of its unfinished attempts. Then the catch-up finishes
// (Run, in the background as control runs it) and the recording is found
// once; a shutdown during the catch-up interrupts it without counting an
// attempt.
func TestSearchDuringCatchUp(t *testing.T) {
	e := newIndexEnv(t)
	now := time.Now()
	done := e.recording(t, "done", now.Add(-time.Hour), true)
	if err := e.st.IndexRecordingText(context.Background(), done, tagLines("done")); err != nil {
		t.Fatal(err)
	}
	id := e.recording(t, "rec", now, true)
	e.stopMidIndexing(t, id, "rec")

	o := newOpener(e.dir)
	o.hold, o.held = make(chan struct{}), make(chan string, 10)

	// A first start, stopped while the catch-up holds the recording open.
	var logs logBuffer
	ix := e.start(t, o, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { ix.Run(ctx); close(ran) }()
	if got := <-o.held; got != id {
		t.Fatalf("catch-up opened %s first, want %s", got, id)
	}
	checks := []struct {
		tag  string
		want int // lines found, each once
	}{{"done", recLines}, {"rec", 0}}
	for _, c := range checks {
		if got := e.found(t, c.tag); len(got) != c.want {
			t.Errorf("during the catch-up: %s found %v, want %d lines", c.tag, got, c.want)
		}
		if c.want > 0 {
			if err := e.eachOnce(t, c.tag); err != nil {
				t.Errorf("during the catch-up: %v", err)
			}
		}
	}
	cancel()
	<-ran
	if !logs.has("INFO", "recording text indexing interrupted by shutdown; made again at the next start", id) {
		t.Errorf("no log line of the interruption in\n%s", logs.String())
	}

	// The next start finishes it, MaxAttempts (3) notwithstanding: the
	// interrupted attempt did not count.
	close(o.hold)
	e.reopen(t)
	un, err := e.st.UnindexedRecordings(context.Background(), store.UnindexedQuery{Formats: indexable, MaxAttempts: 3})
	if err != nil || len(un) != 1 || un[0].SessionID != id || un[0].Attempts != 1 {
		t.Fatalf("unindexed after the interrupted start: %+v %v", un, err)
	}
	ix = e.start(t, o, &logs)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go ix.Run(ctx)
	waitFor(t, "the recording caught up", func() error { return e.eachOnce(t, "rec") })
	if err := e.eachOnce(t, "done"); err != nil {
		t.Error(err)
	}
}

// TestStartDuringCatchUp: a recording finalised while the catch-up runs
// is indexed once, by whichever gets to it first.
func TestStartDuringCatchUp(t *testing.T) {
	e := newIndexEnv(t)
	now := time.Now()
	ids := map[string]string{}
	for i, tag := range []string{"a", "b", "c", "d"} {
		ids[tag] = e.recording(t, tag, now.Add(time.Duration(i)*time.Minute), true)
	}
	e.stopMidIndexing(t, ids["b"], "b")
	var logs logBuffer
	ix := e.start(t, newOpener(e.dir), &logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ix.Run(ctx)
	for _, tag := range []string{"a", "b", "c", "d"} {
		ix.Start(ids[tag], api.FormatAsciicast) // final chunks sent again
	}
	for _, tag := range []string{"a", "b", "c", "d"} {
		waitFor(t, "recording "+tag+" indexed", func() error { return e.eachOnce(t, tag) })
	}
	un, err := e.st.UnindexedRecordings(context.Background(), store.UnindexedQuery{Formats: indexable, MaxAttempts: 3})
	if err != nil || len(un) != 0 {
		t.Fatalf("unindexed: %+v %v", un, err)
	}
}

// killChildEnv, when set (database|recordings directory|session id),
// makes TestCatchUpAfterKill the control that is killed: it indexes the
// recording, says "added" on stdout once the first batch of lines is in
// the database, and waits to be killed.
const killChildEnv = "ONEPAM_TEST_INDEX_KILLED_CONTROL"

// stallingIndex says "added" after the first AddRecordingText and then
// never returns.
type stallingIndex struct{ TextIndex }

func (s stallingIndex) AddRecordingText(ctx context.Context, ti *store.TextIndexing, lines []store.TextLine) error {
	if err := s.TextIndex.AddRecordingText(ctx, ti, lines); err != nil {
		return err
	}
	fmt.Println("added")
	time.Sleep(2 * time.Minute) // killed long before; bounded in case the parent died
	os.Exit(3)
	return nil
}

func killedControl(t *testing.T, arg string) {
	dbPath, rest, _ := strings.Cut(arg, "|")
	dirPath, id, _ := strings.Cut(rest, "|")
	st, err := sqlite.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDir(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := NewIndexer(IndexerConfig{Recordings: d, Index: stallingIndex{st}, Batch: testBatch})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ix.Index(context.Background(), id, api.FormatAsciicast)
	t.Fatalf("indexing returned (%v) instead of stalling", err)
}

// TestCatchUpAfterKill: a control killed (SIGKILL) while it indexes a
// recording, with some of its lines in the database; the next control
// shows none of them until its catch-up indexed the recording again, and
// then each line once.
func TestCatchUpAfterKill(t *testing.T) {
	if arg := os.Getenv(killChildEnv); arg != "" {
		killedControl(t, arg)
		return
	}
	e := newIndexEnv(t)
	id := e.recording(t, "rec", time.Now(), true)
	e.st.Close()
	e.st = nil
	cmd := exec.Command(os.Args[0], "-test.run=^TestCatchUpAfterKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+e.dbPath+"|"+e.dir.root+"|"+id)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		said <- line
	}()
	select {
	case line := <-said:
		if line != "added\n" {
			t.Fatalf("the control to kill said %q", line)
		}
	case <-time.After(time.Minute):
		t.Fatal("the control to kill never added lines")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	exited = true
	if err := cmd.Wait(); err == nil {
		t.Fatal("the killed control exited cleanly")
	}

	e.reopen(t)
	if got := e.found(t, "rec"); len(got) != 0 {
		t.Fatalf("after the kill: found %v, want nothing of the unfinished attempt", got)
	}
	un, err := e.st.UnindexedRecordings(context.Background(), store.UnindexedQuery{Formats: indexable, MaxAttempts: 3})
	if err != nil || len(un) != 1 || un[0].SessionID != id || !un[0].Interrupted {
		t.Fatalf("unindexed after the kill: %+v %v", un, err)
	}
	var logs logBuffer
	ix := e.start(t, e.dir, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ix.Run(ctx)
	waitFor(t, "the recording caught up", func() error { return e.eachOnce(t, "rec") })
	waitFor(t, "its log line", func() error {
		if !logs.has("INFO", "recording text caught up", id) {
			return errors.New(logs.String())
		}
		return nil
	})
}

// oldDatabase creates the database of an onepam from before the indexing
// state (schema version 5, from the migration files) and returns it open.
func oldDatabase(t *testing.T, path string) *sql.DB {
	t.Helper()
	files, err := filepath.Glob("../store/sqlite/migrations/000[1-5]_*.sql")
	if err != nil || len(files) != 5 {
		t.Fatalf("migrations 1 to 5: %v %v", files, err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	stmts := []string{`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, string(b), fmt.Sprintf(`INSERT INTO schema_version VALUES (%d, 0)`, i+1))
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return db
}

// TestCatchUpOldDatabase: the first start of this control on the
// database of an older one, which indexed some recordings fully, one half
// (it was stopped) and one not at all, and whose retention expired one
// (its text stays searchable, as it was). The catch-up indexes the three
// again, and every line is found once before, during and after.
func TestCatchUpOldDatabase(t *testing.T) {
	root := t.TempDir()
	d, err := NewDir(filepath.Join(root, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	e := &indexEnv{dbPath: filepath.Join(root, "onepam.db"), dir: d}
	db := oldDatabase(t, e.dbPath)
	recs := []struct {
		tag     string
		state   api.RecordingState
		indexed int // lines the old control indexed
	}{
		{"full", api.RecordingComplete, recLines},
		{"half", api.RecordingPartial, recLines / 2},
		{"none", api.RecordingComplete, 0},
		{"expired", api.RecordingExpired, recLines},
	}
	ids := map[string]string{}
	now := time.Now()
	for i, r := range recs {
		id := store.IDAt(now.Add(time.Duration(i) * time.Minute))
		ids[r.tag] = id
		if _, err := db.Exec(`INSERT INTO sessions (id, user_name, type, status, resource, agent, login, client_ip,
			created_at, rec_format, rec_state, rec_available) VALUES (?, 'alice', 'ssh', 'completed', 'web-1', 'a1', 'root', '', ?, 'asciicast', ?, 1)`,
			id, now.UnixNano(), string(r.state)); err != nil {
			t.Fatal(err)
		}
		for _, l := range tagLines(r.tag)[:r.indexed] {
			if _, err := db.Exec(`INSERT INTO recording_text (line, session_id, kind, t) VALUES (?, ?, 'o', ?)`,
				l.Text, id, l.At.Milliseconds()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The recordings' data, but the expired one's.
	for _, r := range recs[:3] {
		var rec bytes.Buffer
		w, _ := asciicast.NewRecorder(&rec, asciicast.Header{Width: 80, Height: 24})
		for _, l := range tagLines(r.tag) {
			w.Output(l.At, []byte(l.Text+"\r\n"))
		}
		w.Close()
		if _, err := d.WriteAt(context.Background(), ids[r.tag], api.FormatAsciicast, 0, rec.Bytes(), true); err != nil {
			t.Fatal(err)
		}
	}

	o := newOpener(d)
	o.hold, o.held = make(chan struct{}), make(chan string, 10)
	var logs logBuffer
	ix := e.start(t, o, &logs) // migrates the database
	defer e.st.Close()
	wantOld := func(step string) {
		for _, r := range recs {
			got := e.found(t, r.tag)
			if len(got) != r.indexed {
				t.Errorf("%s: %s found %v, want its %d old lines", step, r.tag, got, r.indexed)
			}
			for l, n := range got {
				if n != 1 {
					t.Errorf("%s: %q found %d times", step, l, n)
				}
			}
		}
	}
	wantOld("after the migration")
	type result struct {
		res CatchUpResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := ix.CatchUp(context.Background())
		done <- result{res, err}
	}()
	<-o.held // the newest recording first: "none"
	wantOld("during the catch-up")
	close(o.hold)
	r := <-done
	want := CatchUpResult{Indexed: 3, Purged: recLines + recLines/2}
	if r.err != nil || r.res != want {
		t.Fatalf("catch-up: %+v, %v; want %+v\n%s", r.res, r.err, want, logs.String())
	}
	for _, r := range recs {
		if err := e.eachOnce(t, r.tag); err != nil {
			t.Error(err)
		}
		if r.state != api.RecordingExpired && !logs.has("INFO", "recording text caught up", ids[r.tag]) {
			t.Errorf("no log line for %s in\n%s", r.tag, logs.String())
		}
	}
}
