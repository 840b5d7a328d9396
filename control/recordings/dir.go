package recordings

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/onepam/onepam/pkg/api"
)

// Dir is a Store in a local directory. It is safe for concurrent use;
// writes to one recording are serialised.
type Dir struct {
	root  string
	seed  maphash.Seed
	locks [64]sync.Mutex // striped by session id

	tailMu sync.Mutex
	tails  map[string]int64 // offset of each recording's last chunk (this process)
}

var _ Store = (*Dir)(nil)

// NewDir returns a Dir rooted at root, creating root (mode 0700) if needed.
func NewDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("recordings dir: %w", err)
	}
	return &Dir{root: root, seed: maphash.MakeSeed(), tails: map[string]int64{}}, nil
}

// Root returns the directory holding the recordings.
func (d *Dir) Root() string { return d.root }

// ContainerFile is the name of a recording container in its session's
// directory (and object key suffix in a bucket).
const ContainerFile = "recording.oprec"

// Path returns the file of a recording: the container
// <root>/<session id>/recording.oprec when there is one, else the legacy
// raw file <root>/<session id>/recording.<ext> (which may not exist).
func (d *Dir) Path(sessionID string, format api.RecordingFormat) (string, error) {
	return d.pathFor(sessionID, format, false)
}

// pathFor resolves a recording's file; newContainer says a recording not
// stored yet is a container.
func (d *Dir) pathFor(sessionID string, format api.RecordingFormat, newContainer bool) (string, error) {
	if err := CheckSessionID(sessionID); err != nil {
		return "", err
	}
	ext, err := Ext(format)
	if err != nil {
		return "", err
	}
	cont := filepath.Join(d.root, sessionID, ContainerFile)
	legacy := filepath.Join(d.root, sessionID, "recording"+ext)
	if _, err := os.Stat(cont); err == nil {
		return cont, nil
	}
	if _, err := os.Stat(legacy); err == nil || !newContainer {
		return legacy, nil
	}
	return cont, nil
}

func (d *Dir) lock(sessionID string) *sync.Mutex {
	return &d.locks[maphash.String(d.seed, sessionID)%uint64(len(d.locks))]
}

// WriteAt implements Store. The file is fsynced before WriteAt returns; the
// session directory is fsynced when the file is created and on final.
func (d *Dir) WriteAt(ctx context.Context, sessionID string, format api.RecordingFormat, off int64, data []byte, final bool) (int64, error) {
	path, err := d.pathFor(sessionID, format, off == 0 && IsContainer(data))
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("write recording %s: negative offset %d", sessionID, off)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	mu := d.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()

	sessDir := filepath.Dir(path)
	created := false
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(sessDir, 0o700); err != nil {
			return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
		}
		created = true
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	size := st.Size()
	if off > size {
		return size, fmt.Errorf("write recording %s at offset %d: %w (%d bytes stored)", sessionID, off, ErrGap, size)
	}
	end := off + int64(len(data))
	if len(data) > 0 {
		if _, err := f.WriteAt(data, off); err != nil {
			return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
		}
	}
	if end < size {
		if err := f.Truncate(end); err != nil {
			return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
	}
	d.noteTail(sessionID, off, final)
	if created || final {
		if err := syncDir(sessDir); err != nil {
			return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
		}
		if created {
			if err := syncDir(d.root); err != nil {
				return 0, fmt.Errorf("write recording %s: %w", sessionID, err)
			}
		}
	}
	return end, nil
}

// Size implements Store.
func (d *Dir) Size(ctx context.Context, sessionID string, format api.RecordingFormat) (int64, error) {
	path, err := d.Path(sessionID, format)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("recording %s: %w", sessionID, err)
	}
	return st.Size(), nil
}

// noteTail remembers where the last chunk of a recording begins: a
// recording container's uploader may rewrite from there (a re-sent open
// frame), never below. A final chunk ends the rewrites.
func (d *Dir) noteTail(sessionID string, off int64, final bool) {
	d.tailMu.Lock()
	defer d.tailMu.Unlock()
	if final {
		delete(d.tails, sessionID)
	} else {
		d.tails[sessionID] = off
	}
}

// Open implements Store. The returned reader is a Blob as of the call: the
// part of the file the uploader may still rewrite is copied under the
// recording's lock, so readers see whole chunks.
func (d *Dir) Open(ctx context.Context, sessionID string, format api.RecordingFormat) (io.ReadCloser, error) {
	path, err := d.Path(sessionID, format)
	if err != nil {
		return nil, err
	}
	mu := d.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: session %s (%s)", ErrNotFound, sessionID, format)
	}
	if err != nil {
		return nil, fmt.Errorf("open recording %s: %w", sessionID, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open recording %s: %w", sessionID, err)
	}
	size := st.Size()
	d.tailMu.Lock()
	stable, ok := d.tails[sessionID]
	d.tailMu.Unlock()
	if !ok || stable > size {
		stable = size
	}
	tail := make([]byte, size-stable)
	if _, err := f.ReadAt(tail, stable); err != nil {
		f.Close()
		return nil, fmt.Errorf("read recording %s: %w", sessionID, err)
	}
	return &snapBlob{f: f, stable: stable, tail: tail}, nil
}

// Delete implements Store.
func (d *Dir) Delete(ctx context.Context, sessionID string) error {
	if err := CheckSessionID(sessionID); err != nil {
		return err
	}
	mu := d.lock(sessionID)
	mu.Lock()
	defer mu.Unlock()
	d.noteTail(sessionID, 0, true)
	if err := os.RemoveAll(filepath.Join(d.root, sessionID)); err != nil {
		return fmt.Errorf("delete recording %s: %w", sessionID, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Probe writes, reads back and deletes a probe file in the directory.
func (d *Dir) Probe() api.StorageTestResult {
	p := filepath.Join(d.root, ".onepam-probe")
	body := []byte("onepam recording storage probe")
	if err := os.WriteFile(p, body, 0o600); err != nil {
		return api.StorageTestResult{Message: fmt.Sprintf("write %s: %v", p, err), Steps: []string{"write: FAILED"}}
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(body) {
		return api.StorageTestResult{Message: fmt.Sprintf("read back %s: %v", p, err), Steps: []string{"write: ok", "read: FAILED"}}
	}
	if err := os.Remove(p); err != nil {
		return api.StorageTestResult{Message: fmt.Sprintf("delete %s: %v", p, err), Steps: []string{"write: ok", "read: ok", "delete: FAILED"}}
	}
	return api.StorageTestResult{OK: true, Message: "wrote, read back and deleted a probe file in " + d.root, Steps: []string{"write: ok", "read: ok", "delete: ok"}}
}
