package cli

import (
	"context"
	"fmt"
	"image"
	"io"
	"time"

	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Terminal sequences of the desktop preview: the alternate screen with the
// cursor hidden while it runs, everything restored when it ends.
const (
	previewEnter = "\x1b[?1049h\x1b[?25l\x1b[2J"
	previewLeave = "\x1b[0m\x1b[?25h\x1b[?1049l"
	previewTick  = 100 * time.Millisecond // at most ten frames a second
)

// desktopScreen draws a desktop on the terminal with half blocks, the
// image above one status line; unchanged screens are not redrawn.
type desktopScreen struct {
	out  io.Writer
	size func() (cols, rows int, ok bool)
	last string
}

func (d *desktopScreen) draw(img image.Image, status string) error {
	cols, rows, ok := d.size()
	if !ok || cols <= 0 || rows <= 1 {
		cols, rows = 80, 24
	}
	s := "\x1b[H" + halfBlocks(img, cols, rows-1) + "\x1b[K\r\n" + status + "\x1b[K\x1b[J"
	if s == d.last {
		return nil
	}
	d.last = s
	_, err := io.WriteString(d.out, s)
	return err
}

// playDesktop plays a desktop recording on the terminal at its real pace:
// q (or Ctrl-C) quits, space pauses, → and ← jump 5 seconds. At the end
// the last screen stays until q (or until input ends). The terminal is
// restored on every way out.
func playDesktop(ctx context.Context, opts *SessionsReplayOptions, id string, p *deskproto.Player) error {
	ios := opts.IO
	restore, err := ios.MakeRaw()
	if err != nil {
		return fmt.Errorf("raw terminal: %w", err)
	}
	defer restore()
	fmt.Fprint(ios.Out, previewEnter)
	defer fmt.Fprint(ios.Out, previewLeave)
	keys := make(chan key, 8)
	go readKeys(ios.In, keys)
	scr := &desktopScreen{out: ios.Out, size: ios.TerminalSize}
	tick := time.NewTicker(previewTick)
	defer tick.Stop()
	dur := p.Duration()
	var (
		pos    time.Duration
		last   = time.Now()
		paused bool
	)
	for {
		img, err := p.Frame(pos)
		if err != nil {
			return fmt.Errorf("recording of session %s at %s: %w", id, pos, err)
		}
		state := "q quits · space pauses · ←/→ 5s"
		switch {
		case pos >= dur:
			state = "end of the recording · q quits"
		case paused:
			state = "paused · space plays · q quits"
		}
		status := fmt.Sprintf("session %s  %s / %s  %s", id, output.Duration(pos), output.Duration(dur), state)
		if err := scr.draw(img, status); err != nil {
			return err
		}
		if pos >= dur && keys == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			if !paused {
				pos = min(pos+now.Sub(last), dur)
			}
			last = now
		case k, ok := <-keys:
			if !ok {
				keys = nil
				continue
			}
			switch k {
			case keyQuit:
				return nil
			case keyPause:
				paused = !paused
			case keyForward:
				pos = min(pos+replayJump, dur)
			case keyBack:
				pos = max(pos-replayJump, 0)
			}
			last = time.Now()
		}
	}
}
