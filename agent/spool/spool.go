package spool

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Config configures a Spool. Zero fields take the defaults of withDefaults.
type Config struct {
	Dir    string // the spool directory (created if missing); required
	Logger *slog.Logger
	// Clock gives session times (default time.Now).
	Clock func() time.Time
	// AgentID goes into each recording's container header.
	AgentID string
	// Signer is the agent's Ed25519 key: Finalize signs each recording's
	// chain head with it. Without one recordings stay unsigned.
	Signer ed25519.PrivateKey
	// FlushInterval is the longest time written bytes wait before they are
	// durable on disk and visible to the uploader (the loss window of a
	// crash). Default 900 ms, so that with scheduling delays a crash loses
	// less than the last second.
	FlushInterval time.Duration
	// FrameSize is the raw size at which the open frame is closed
	// (container.Config.FrameSize). Default 64 KiB: a realistic terminal
	// stream is stored 5.7 times smaller than raw (6.7 with 256 KiB frames,
	// at four times the upload traffic of re-sent open frames).
	FrameSize int
	// Limit is the most bytes the spool may hold (0: no limit). A new
	// recording needs Headroom plus 64 KiB free; a write that would leave less
	// than Headroom is refused (ErrFull) or, with FailOpen, stops the
	// recording.
	Limit int64
	// FailOpen: at the limit a recording stops (later writes are dropped,
	// the session goes on) instead of failing its writes.
	FailOpen bool
	// OnFull is called (once per recording) when a recording hits the
	// limit, before the refused write returns: its writes now fail, or with
	// FailOpen it stopped. It runs under the recording's lock: it must not
	// use the Writer (start a goroutine for that).
	OnFull func(sessionID string, err error)
}

// Headroom returns the free space a recording needs to go on: room to
// close its open frame (and its two snapshots) and write the trailer.
func (c Config) Headroom() int64 { return 3*int64(c.FrameSize) + 64<<10 }

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 900 * time.Millisecond
	}
	if c.FrameSize <= 0 {
		c.FrameSize = DefaultFrameSize
	}
	if c.OnFull == nil {
		c.OnFull = func(string, error) {}
	}
	return c
}

// DefaultFrameSize is Config.FrameSize's default.
const DefaultFrameSize = 64 << 10

// ErrExists is returned by Create when the spool already holds a recording
// of that session.
var ErrExists = errors.New("recording already spooled")

// ErrFull is wrapped by the errors of Create and of writes refused at the
// spool limit.
var ErrFull = errors.New("recording spool full")

// errStopped tells a fail-open writer to stop recording.
var errStopped = errors.New("recording stopped: spool full")

// Spool is a directory of recordings. It is safe for concurrent use.
type Spool struct {
	cfg   Config
	used  atomic.Int64 // bytes of every spool file
	mu    sync.Mutex
	recs  map[string]*Recording
	added chan struct{} // closed (and replaced) when a recording is created
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// ValidID reports whether id can name a spooled recording (it becomes part
// of a file name, so it is restricted to letters, digits, '-' and '_').
func ValidID(id string) bool { return idPattern.MatchString(id) }

var formats = []api.RecordingFormat{api.FormatAsciicast, api.FormatDeskproto, api.FormatQuerylog, api.FormatHAR, api.FormatConnlog}

func validFormat(f api.RecordingFormat) bool {
	for _, v := range formats {
		if v == f {
			return true
		}
	}
	return false
}

// Open opens (creating if needed) the spool directory, repairs torn
// sidecars and finalises as cut every recording left unfinished by a
// previous run.
func Open(cfg Config) (*Spool, error) {
	cfg = cfg.withDefaults()
	if cfg.Dir == "" {
		return nil, errors.New("spool: no directory given")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	s := &Spool{cfg: cfg, recs: map[string]*Recording{}, added: make(chan struct{})}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("read spool directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		if strings.HasSuffix(name, metaSuffix) || strings.HasSuffix(name, slotSuffix[0]) || strings.HasSuffix(name, slotSuffix[1]) {
			continue // read with their recording
		}
		base, isContainer := strings.CutSuffix(name, containerSuffix)
		id, format, ok := strings.Cut(base, ".")
		if !ok || !ValidID(id) || !validFormat(api.RecordingFormat(format)) {
			cfg.Logger.Warn("ignoring unknown file in the spool", "file", name)
			continue
		}
		var rec *Recording
		if isContainer {
			rec, err = s.recoverContainer(id, api.RecordingFormat(format))
		} else {
			rec, err = s.recover(id, api.RecordingFormat(format))
		}
		if err != nil {
			return nil, err
		}
		if rec != nil {
			s.recs[id] = rec
		}
	}
	// Snapshot files whose recording is gone (a crash while removing it).
	for _, e := range ents {
		for _, suf := range slotSuffix {
			if base, ok := strings.CutSuffix(e.Name(), suf); ok {
				if _, err := os.Stat(filepath.Join(cfg.Dir, base)); errors.Is(err, os.ErrNotExist) {
					removeIfExists(filepath.Join(cfg.Dir, e.Name()))
				}
			}
		}
	}
	if err := s.measure(); err != nil {
		return nil, err
	}
	return s, nil
}

// File name suffixes: a recording container, its two open-frame snapshot
// slots, and the sidecar of a legacy (raw) recording.
const (
	containerSuffix = ".oprec"
	metaSuffix      = ".meta"
)

var slotSuffix = [2]string{".open0", ".open1"}

// paths returns a legacy recording's data and sidecar files.
func (s *Spool) paths(id string, f api.RecordingFormat) (data, meta string) {
	data = filepath.Join(s.cfg.Dir, id+"."+string(f))
	return data, data + metaSuffix
}

// containerPaths returns a recording container and its snapshot slots.
func (s *Spool) containerPaths(id string, f api.RecordingFormat) (data string, slots [2]string) {
	data = filepath.Join(s.cfg.Dir, id+"."+string(f)+containerSuffix)
	return data, [2]string{data + slotSuffix[0], data + slotSuffix[1]}
}

// measure sets the spool's usage from the files on disk.
func (s *Spool) measure() error {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("read spool directory: %w", err)
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	s.used.Store(n)
	return nil
}

// account adds n (negative: frees) to the spool's usage.
func (s *Spool) account(n int64) { s.used.Add(n) }

// Used returns the bytes the spool's files hold.
func (s *Spool) Used() int64 { return s.used.Load() }

func (s *Spool) fullError() error {
	return fmt.Errorf("%w: %s of the %s spool_limit used, and a recording needs %s free to go on", ErrFull,
		humanBytes(s.used.Load()), humanBytes(s.cfg.Limit), humanBytes(s.cfg.Headroom()))
}

// admit checks a write of n bytes against the limit: nil, ErrFull
// (fail-closed) or errStopped (fail-open). OnFull is told the first time.
func (s *Spool) admit(w *Writer, n int64) error {
	if s.cfg.Limit <= 0 || s.used.Load()+n+s.cfg.Headroom() <= s.cfg.Limit {
		return nil
	}
	err := s.fullError()
	if !w.full {
		w.full = true
		s.cfg.OnFull(w.rec.ID, err)
	}
	if s.cfg.FailOpen {
		return errStopped
	}
	return err
}

// recover loads one legacy recording (raw inner-format bytes and a
// sidecar, written by an older agent) found on disk.
func (s *Spool) recover(id string, format api.RecordingFormat) (*Recording, error) {
	dataPath, metaPath := s.paths(id, format)
	log := s.cfg.Logger.With("session", id, "format", format)
	if _, err := os.Stat(metaPath); errors.Is(err, os.ErrNotExist) {
		// Crash between creating the two files.
		if err := os.WriteFile(metaPath, nil, 0o600); err != nil {
			return nil, fmt.Errorf("create spool sidecar: %w", err)
		}
	}
	recs, cut, err := readSidecar(metaPath)
	if err != nil {
		return nil, err
	}
	if cut {
		log.Warn("cut a torn record from a spool sidecar")
	}
	st, err := os.Stat(dataPath)
	if err != nil {
		return nil, fmt.Errorf("stat spooled recording: %w", err)
	}
	size := st.Size()
	rec := &Recording{ID: id, Format: format, dataPath: dataPath, metaPath: metaPath, legacy: true, changed: make(chan struct{})}
	var last sideRecord
	if len(recs) > 0 {
		last = recs[len(recs)-1]
	}
	if last.kind == kindFinal || last.kind == kindCut {
		if size < last.length {
			log.Warn("spooled recording is shorter than its final length; data was lost on disk", "have", size, "want", last.length)
		} else if size > last.length {
			if err := os.Truncate(dataPath, last.length); err != nil {
				return nil, fmt.Errorf("trim spooled recording: %w", err)
			}
			size = last.length
		}
		rec.stable, rec.final, rec.cut = size, true, last.kind == kindCut
		return rec, nil
	}
	if last.kind == kindSynced && size < last.length {
		log.Warn("spooled recording is shorter than its last synced length; data was lost on disk", "have", size, "want", last.length)
	}
	// The agent stopped while this session ran: finalise it as cut.
	f, err := os.OpenFile(metaPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("open spool sidecar: %w", err)
	}
	err = appendRecord(f, sideRecord{kind: kindCut, length: size})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	log.Info("finalised a recording interrupted by an agent stop as cut", "size", size)
	rec.stable, rec.final, rec.cut = size, true, true
	return rec, nil
}

// createRoom is the free space beyond Headroom a new recording needs.
const createRoom = 64 << 10

// Create starts a new recording for a session. When the spool has less
// than Headroom plus 64 KiB free it fails with ErrFull (unless FailOpen: the recording starts and stops at
// its first write that does not fit).
func (s *Spool) Create(sessionID string, format api.RecordingFormat) (*Writer, error) {
	if !ValidID(sessionID) {
		return nil, fmt.Errorf("spool: invalid session id %q", sessionID)
	}
	if !validFormat(format) {
		return nil, fmt.Errorf("spool: unknown recording format %q", format)
	}
	if s.cfg.Limit > 0 && !s.cfg.FailOpen && s.used.Load()+s.cfg.Headroom()+createRoom > s.cfg.Limit {
		return nil, s.fullError()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[sessionID]; ok {
		return nil, fmt.Errorf("spool: session %s: %w", sessionID, ErrExists)
	}
	dataPath, slots := s.containerPaths(sessionID, format)
	data, err := os.OpenFile(dataPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: create recording: %w", err)
	}
	rec := &Recording{ID: sessionID, Format: format, dataPath: dataPath, changed: make(chan struct{}), writing: true}
	w := &Writer{s: s, rec: rec, data: data, start: s.cfg.Clock()}
	if err := w.init(sessionID, format, slots); err != nil {
		data.Close()
		w.closeSlots(true)
		s.account(-rec.View().Stable)
		os.Remove(dataPath)
		return nil, err
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		w.Abort()
		return nil, err
	}
	s.recs[sessionID] = rec
	close(s.added)
	s.added = make(chan struct{})
	return w, nil
}

// Recordings returns every spooled recording, ordered by session id.
func (s *Spool) Recordings() []*Recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Recording, 0, len(s.recs))
	for _, r := range s.recs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IDs returns the session ids of every spooled recording (for the hello).
func (s *Spool) IDs() []string {
	recs := s.Recordings()
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// Get returns the spooled recording of a session.
func (s *Spool) Get(id string) (*Recording, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	return r, ok
}

// Added returns a channel closed when the next recording is created.
func (s *Spool) Added() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.added
}

// Remove deletes a recording that is final (uploaded and acknowledged).
func (s *Spool) Remove(id string) error {
	s.mu.Lock()
	rec, ok := s.recs[id]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if _, final, _ := rec.State(); !final {
		return fmt.Errorf("spool: recording %s is still being written", id)
	}
	return s.drop(rec)
}

func (s *Spool) drop(rec *Recording) error {
	s.mu.Lock()
	_, had := s.recs[rec.ID]
	delete(s.recs, rec.ID)
	s.mu.Unlock()
	if had {
		if st, err := os.Stat(rec.dataPath); err == nil {
			s.account(-st.Size())
		}
		if rec.metaPath != "" {
			if st, err := os.Stat(rec.metaPath); err == nil {
				s.account(-st.Size())
			}
		}
	}
	errs := []error{removeIfExists(rec.dataPath)}
	if rec.metaPath != "" {
		errs = append(errs, removeIfExists(rec.metaPath))
	}
	err := errors.Join(errs...)
	if err != nil {
		return fmt.Errorf("spool: remove recording %s: %w", rec.ID, err)
	}
	return syncDir(s.cfg.Dir)
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("spool: open directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

// humanBytes formats n with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
