package spool

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// recoverContainer loads a recording container left by a previous run. A
// recording without a trailer was being written when the agent stopped:
// its torn last piece is cut (container.TruncateTorn), the newest valid
// snapshot of its open frame is appended, and it is final, cut. A file
// whose header is damaged is renamed to <name>.damaged and skipped.
func (s *Spool) recoverContainer(id string, format api.RecordingFormat) (*Recording, error) {
	dataPath, slots := s.containerPaths(id, format)
	log := s.cfg.Logger.With("session", id, "format", format)
	f, err := os.OpenFile(dataPath, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open spooled recording: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat spooled recording: %w", err)
	}
	size := st.Size()
	keep, err := container.TruncateTorn(f, size)
	if err != nil || keep == 0 {
		if err != nil && !errors.Is(err, container.ErrMalformed) {
			return nil, fmt.Errorf("check spooled recording %s: %w", id, err)
		}
		log.Error("spooled recording has no valid header; set aside", "err", err, "size", size)
		f.Close()
		for _, p := range slots {
			removeIfExists(p)
		}
		if err := os.Rename(dataPath, dataPath+".damaged"); err != nil {
			return nil, fmt.Errorf("set aside damaged recording: %w", err)
		}
		return nil, nil
	}
	if keep < size {
		log.Warn("cut a torn frame from a spooled recording", "size", size, "keep", keep)
		if err := f.Truncate(keep); err != nil {
			return nil, fmt.Errorf("cut spooled recording: %w", err)
		}
		size = keep
	}
	rd, err := container.Open(f, size)
	if err != nil {
		return nil, fmt.Errorf("open spooled recording %s: %w", id, err)
	}
	_, finished := rd.Trailer()
	if !finished {
		if snap := bestSnapshot(f, size, rd.NumFrames(), slots); snap != nil {
			if _, err := f.WriteAt(snap, size); err != nil {
				return nil, fmt.Errorf("append open frame to spooled recording: %w", err)
			}
			size += int64(len(snap))
			log.Info("recovered the open frame of an interrupted recording", "bytes", len(snap))
		}
		if rd, err = container.Open(f, size); err != nil {
			return nil, fmt.Errorf("open spooled recording %s: %w", id, err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync spooled recording: %w", err)
	}
	for _, p := range slots {
		if err := removeIfExists(p); err != nil {
			return nil, fmt.Errorf("remove snapshot: %w", err)
		}
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return nil, err
	}
	rec := &Recording{ID: id, Format: format, dataPath: dataPath, changed: make(chan struct{})}
	rec.bounds = append(rec.bounds, 0)
	for _, fr := range rd.Frames() {
		rec.bounds = append(rec.bounds, fr.Offset)
	}
	t, signed := rd.Trailer()
	if signed {
		rec.bounds = append(rec.bounds, t.Offset)
	}
	rec.stable, rec.final, rec.cut = size, true, !signed
	if !signed {
		log.Info("finalised a recording interrupted by an agent stop as cut", "size", size, "frames", rd.NumFrames())
	}
	return rec, nil
}

// bestSnapshot returns the valid snapshot that continues the container
// (the next frame number, matching the chain) with the most raw bytes.
func bestSnapshot(f io.ReaderAt, size int64, frames int, slots [2]string) []byte {
	var best []byte
	bestRaw := -1
	for _, p := range slots {
		snap, err := os.ReadFile(p)
		if err != nil || len(snap) == 0 {
			continue
		}
		cat := concatReaderAt{a: f, aLen: size, b: snap}
		total := size + int64(len(snap))
		if keep, err := container.TruncateTorn(cat, total); err != nil || keep != total {
			continue
		}
		rd, err := container.Open(cat, total)
		if err != nil || rd.NumFrames() != frames+1 {
			continue
		}
		if raw := rd.Frame(frames).RawLen; raw > bestRaw {
			best, bestRaw = snap, raw
		}
	}
	return best
}

// concatReaderAt reads a's first aLen bytes followed by b.
type concatReaderAt struct {
	a    io.ReaderAt
	aLen int64
	b    []byte
}

func (c concatReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < c.aLen {
		m := min(int64(len(p)), c.aLen-off)
		k, err := c.a.ReadAt(p[:m], off)
		n += k
		if err != nil && !(errors.Is(err, io.EOF) && int64(k) == m) {
			return n, err
		}
		off += int64(k)
	}
	if n == len(p) {
		return n, nil
	}
	rest := bytes.NewReader(c.b)
	k, err := rest.ReadAt(p[n:], off-c.aLen)
	return n + k, err
}
