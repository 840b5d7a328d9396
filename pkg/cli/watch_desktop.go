package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// liveDesktop is a desktop rebuilt from a watch stream as it arrives.
type liveDesktop struct {
	mu    sync.Mutex
	rend  *deskproto.Renderer
	t     time.Duration // time of the last event applied
	dirty bool
}

// follow decodes the stream and applies every event; it returns nil at
// the stream's end (a stream cut inside an event included).
func (l *liveDesktop) follow(r io.Reader) error {
	dec, err := deskproto.NewDecoder(bufio.NewReaderSize(r, 64<<10))
	if errors.Is(err, io.EOF) || errors.Is(err, deskproto.ErrTruncated) {
		return nil // nothing recorded
	}
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.rend = deskproto.NewRenderer(dec.Header())
	l.mu.Unlock()
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, deskproto.ErrTruncated) {
			return nil
		}
		if err != nil {
			return err
		}
		l.mu.Lock()
		err = l.rend.Apply(&ev)
		l.t, l.dirty = ev.T, true
		l.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s event at %s: %w", ev.Type, ev.T, err)
		}
	}
}

// draw redraws the screen when an event changed it.
func (l *liveDesktop) draw(scr *desktopScreen, id string, force bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rend == nil || (!l.dirty && !force) {
		return nil
	}
	l.dirty = false
	return scr.draw(l.rend.Image(), fmt.Sprintf("watching session %s  %s  read-only · q stops watching", id, l.t.Truncate(time.Second)))
}

// watchDesktop shows an active desktop session as a live half-block
// preview fed by the watch stream. Desktop watches start at the session's
// start (control serves live=1 to terminal recordings only); the catch-up
// is decoded at once and only drawn ten times a second.
func watchDesktop(ctx context.Context, opts *SessionsWatchOptions, c *client.Client, s api.Session) error {
	if !opts.IO.IsStdoutTTY() {
		return fmt.Errorf("watching desktop session %s needs a terminal; onepam sessions snapshot %s shows its screen so far", s.ID, s.ID)
	}
	rc, _, err := c.Watch(ctx, s.ID, false)
	if err != nil {
		return err
	}
	defer rc.Close()
	werr, quit, err := runDesktopWatch(ctx, opts, s.ID, rc)
	if err != nil {
		return err
	}
	if quit || ctx.Err() != nil {
		return nil // the watcher stopped; the session goes on
	}
	ended := waitEnded(ctx, c, s.ID, 5*time.Second)
	if werr != nil && !ended.Status.Terminal() {
		return fmt.Errorf("watch of session %s broke: %w", s.ID, werr)
	}
	fmt.Fprintln(opts.IO.ErrOut, endedLine(ended))
	return nil
}

// runDesktopWatch runs the preview on the terminal until the stream ends
// (werr: how) or the watcher quits, and restores the terminal.
func runDesktopWatch(ctx context.Context, opts *SessionsWatchOptions, id string, rc io.ReadCloser) (werr error, quit bool, err error) {
	ios := opts.IO
	restore, err := ios.MakeRaw()
	if err != nil {
		return nil, false, fmt.Errorf("raw terminal: %w", err)
	}
	defer restore()
	fmt.Fprint(ios.Out, previewEnter)
	defer fmt.Fprint(ios.Out, previewLeave)
	live := &liveDesktop{}
	done := make(chan error, 1)
	go func() { done <- live.follow(rc) }()
	keys := make(chan key, 8)
	go readKeys(ios.In, keys)
	scr := &desktopScreen{out: ios.Out, size: ios.TerminalSize}
	tick := time.NewTicker(previewTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, true, nil
		case werr := <-done:
			return werr, false, live.draw(scr, id, true)
		case <-tick.C:
			if err := live.draw(scr, id, false); err != nil {
				return nil, false, err
			}
		case k, ok := <-keys:
			if !ok {
				keys = nil // input ended: watch on
				continue
			}
			if k == keyQuit {
				return nil, true, nil
			}
		}
	}
}
