package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
)

// Replay of terminal (ssh) recordings.
//
// On a terminal the recording plays at its real pace (--speed, --idle-limit,
// --from) with keys: space pauses and resumes, → and ← jump 5 s forward and
// back, + and - double and halve the speed, q (or Ctrl-C) quits. The
// terminal is resized to the recorded size where it allows (xterm's
// CSI 8;ROWS;COLS t) and put back at the end; a terminal that stays smaller
// is reported on standard error. On any other output the session's text is
// printed without timing, for grep; --input prints what was typed (each
// line with its time in the session); -o json prints the asciicast events
// as a JSON array of [time, code, data].

// replayJump is how far → and ← move.
const replayJump = 5 * time.Second

// replayAsciicast replays a terminal recording; rc is its stored form.
func replayAsciicast(ctx context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error {
	switch {
	case opts.Format.IsJSON():
		return writeAsciicastJSON(opts.IO.Out, recordings.Inner(rc), s.ID)
	case opts.Input:
		return writeRecordedLines(opts.IO.Out, recordings.Inner(rc), true, s.ID)
	case !opts.IO.IsStdoutTTY():
		return writeRecordedLines(opts.IO.Out, recordings.Inner(rc), false, s.ID)
	}
	// Jumping back starts a new Player over the recording: keep the stored
	// bytes in a temporary file.
	f, err := os.CreateTemp("", "onepam-replay-*")
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, rc); err != nil {
		return fmt.Errorf("download the recording of session %s: %w", s.ID, err)
	}
	tp := &terminalPlayer{opts: opts, file: f, id: s.ID}
	return tp.run(ctx)
}

// writeAsciicastJSON prints the events as one JSON array of asciicast
// event arrays, streaming.
func writeAsciicastJSON(w io.Writer, inner io.Reader, id string) error {
	dec, err := asciicast.NewDecoder(inner)
	if err != nil {
		return fmt.Errorf("recording of session %s: %w", id, err)
	}
	bw := bufio.NewWriter(w)
	sep := "\n  "
	bw.WriteString("[")
	n := 0
	var decErr error
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			decErr = err
			break
		}
		b, err := json.Marshal([]any{ev.Time, ev.Code, ev.Data})
		if err != nil {
			return err
		}
		bw.WriteString(sep)
		bw.Write(b)
		sep = ",\n  "
		n++
	}
	if n > 0 {
		bw.WriteString("\n")
	}
	bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	if decErr != nil {
		return fmt.Errorf("recording of session %s is damaged after %d events: %w", id, n, decErr)
	}
	return nil
}

// writeRecordedLines prints the plain text of the output (or, with input,
// each typed line after its time in the session).
func writeRecordedLines(w io.Writer, inner io.Reader, input bool, id string) error {
	bw := bufio.NewWriter(w)
	for l, err := range asciicast.Lines(inner, input) {
		if err != nil {
			bw.Flush()
			return fmt.Errorf("recording of session %s: %w", id, err)
		}
		if input {
			fmt.Fprintf(bw, "%-10s %s\n", offsetString(l.Time), l.Text)
		} else {
			bw.WriteString(l.Text)
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// key is a key pressed during a replay.
type key int

const (
	keyPause key = iota + 1
	keyForward
	keyBack
	keyFaster
	keySlower
	keyQuit
)

// readKeys turns raw terminal input into keys until r ends.
func readKeys(r io.Reader, keys chan<- key) {
	br := bufio.NewReader(r)
	for {
		b, err := br.ReadByte()
		if err != nil {
			close(keys)
			return
		}
		var k key
		switch b {
		case ' ':
			k = keyPause
		case '+', '=':
			k = keyFaster
		case '-', '_':
			k = keySlower
		case 'q', 'Q', 0x03, 0x04:
			k = keyQuit
		case 0x1b: // ESC [ C / ESC [ D (or ESC O C / D)
			b1, err1 := br.ReadByte()
			b2, err2 := br.ReadByte()
			if err1 != nil || err2 != nil || (b1 != '[' && b1 != 'O') {
				continue
			}
			switch b2 {
			case 'C':
				k = keyForward
			case 'D':
				k = keyBack
			}
		}
		if k != 0 {
			keys <- k
		}
	}
}

// terminalPlayer plays a recording on the person's terminal.
type terminalPlayer struct {
	opts *SessionsReplayOptions
	file *os.File
	id   string
}

// player returns a Player over the recording starting at from.
func (tp *terminalPlayer) player(from time.Duration, speed float64) (*asciicast.Player, error) {
	if _, err := tp.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	p, err := asciicast.NewPlayer(recordings.Inner(bufio.NewReaderSize(tp.file, 64<<10)), asciicast.PlayOptions{Speed: speed, IdleLimit: tp.opts.IdleLimit, From: from})
	if err != nil {
		return nil, fmt.Errorf("recording of session %s: %w", tp.id, err)
	}
	return p, nil
}

func (tp *terminalPlayer) run(ctx context.Context) error {
	ios := tp.opts.IO
	out := ios.Out
	speed := tp.opts.Speed
	if speed <= 0 {
		speed = 1
	}
	p, err := tp.player(tp.opts.From, speed)
	if err != nil {
		return err
	}
	restoreSize := fitTerminal(ios.Out, ios.ErrOut, ios.TerminalSize, p.Header())
	defer restoreSize()
	restore, err := ios.MakeRaw()
	if err != nil {
		return fmt.Errorf("raw terminal: %w", err)
	}
	defer restore()
	defer fmt.Fprint(out, "\x1b[0m\x1b[?25h\r\n") // attributes and cursor back, whatever the recording left
	keys := make(chan key, 8)
	go readKeys(ios.In, keys)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var (
		paused  bool
		started time.Time // wall time the pending step's wait (re)started
	)
play:
	for {
		step, err := p.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("recording of session %s: %w", tp.id, err)
		}
		wait := step.Wait
		started = time.Now()
		timer.Reset(wait)
		if paused {
			timer.Stop()
		}
	waiting:
		for wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				break waiting
			case k, ok := <-keys:
				if !ok {
					keys = nil
					continue
				}
				// Where the replay stands: the previous event's time plus
				// the part of the wait already played.
				remaining := wait
				if !paused {
					remaining -= time.Since(started)
				}
				now := step.Time - time.Duration(float64(max(remaining, 0))*p.Speed())
				switch k {
				case keyQuit:
					return nil
				case keyPause:
					paused = !paused
					if paused {
						timer.Stop()
						wait -= time.Since(started)
					} else {
						started = time.Now()
						timer.Reset(max(wait, 0))
					}
				case keyFaster, keySlower:
					f := 2.0
					if k == keySlower {
						f = 0.5
					}
					p.SetSpeed(min(max(p.Speed()*f, 1.0/16), 64))
				case keyForward:
					p.SkipTo(now + replayJump)
					break waiting
				case keyBack:
					target := max(now-replayJump, 0)
					np, err := tp.player(target, p.Speed())
					if err != nil {
						return err
					}
					p = np
					fmt.Fprint(out, "\x1b[0m\x1b[2J\x1b[3J\x1b[H") // rebuild the screen from the start
					timer.Stop()
					continue play
				}
			}
		}
		if err := showStep(out, step); err != nil {
			return err
		}
	}
}

// showStep writes one replayed event: output goes to the terminal; input,
// resizes and markers are not shown.
func showStep(w io.Writer, step asciicast.Step) error {
	if step.Type != asciicast.TypeOutput {
		return nil
	}
	_, err := w.Write(step.Data)
	return err
}

// fitTerminal asks the terminal to take the recorded size (xterm's
// CSI 8;ROWS;COLS t) when it differs, says on errOut when the terminal
// stays smaller than the recording, and returns the function that puts
// the original size back.
func fitTerminal(out, errOut io.Writer, size func() (int, int, bool), h asciicast.Header) func() {
	cols, rows, ok := size()
	if !ok || h.Width <= 0 || h.Height <= 0 || (cols == h.Width && rows == h.Height) {
		return func() {}
	}
	fmt.Fprintf(out, "\x1b[8;%d;%dt", h.Height, h.Width)
	// Terminals apply the request asynchronously (or ignore it).
	deadline := time.Now().Add(300 * time.Millisecond)
	nc, nr := cols, rows
	for time.Now().Before(deadline) {
		if c, r, ok := size(); ok && (c != cols || r != rows) {
			nc, nr = c, r
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if nc < h.Width || nr < h.Height {
		fmt.Fprintf(errOut, "the recording is %dx%d but this terminal is %dx%d and could not be resized: enlarge it for a faithful replay\r\n", h.Width, h.Height, nc, nr)
	}
	return func() {
		if nc != cols || nr != rows {
			fmt.Fprintf(out, "\x1b[8;%d;%dt", rows, cols)
		}
	}
}
