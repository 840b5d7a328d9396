package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// DesktopSummary describes a desktop (deskproto) recording; it is what
// `sessions replay -o json` prints for vnc and rdp sessions.
type DesktopSummary struct {
	Width     int     `json:"width"`     // screen size at the end
	Height    int     `json:"height"`    //
	Bytes     int64   `json:"bytes"`     // size of the recording
	Duration  float64 `json:"duration"`  // seconds, time of the last event
	Events    int     `json:"events"`    // events decoded
	Frames    int     `json:"frames"`    // screen updates: rectangles, fills and copies
	Keyframes int     `json:"keyframes"` // full frames (seek points)
	Keys      int     `json:"keys"`      // key presses and releases
	Pointer   int     `json:"pointer"`   // pointer moves and clicks
	Clipboard int     `json:"clipboard"` // clipboard transfers
	Resizes   int     `json:"resizes"`   // screen size changes
	Complete  bool    `json:"complete"`  // ends with its end event
	Error     string  `json:"error,omitempty"`
}

// replayDeskproto plays a desktop recording on a terminal as a live
// half-block preview (playDesktop); elsewhere, or with -o json, it prints
// the recording's summary and how to see its frames.
func replayDeskproto(ctx context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error {
	f, size, err := spoolRecording(rc)
	if err != nil {
		return fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	defer removeSpool(f)
	if opts.IO.IsStdoutTTY() && !opts.Format.IsJSON() {
		p, err := deskproto.NewPlayer(f, size)
		if err != nil {
			return fmt.Errorf("recording of session %s: %w", s.ID, err)
		}
		return playDesktop(ctx, opts, s.ID, p)
	}
	sum, err := summarizeDesktop(f, size)
	if err != nil {
		return fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, sum)
	}
	t := output.NewTable(opts.IO.Out)
	t.Row("Screen", fmt.Sprintf("%d×%d", sum.Width, sum.Height))
	t.Row("Duration", output.Duration(time.Duration(sum.Duration*float64(time.Second))))
	t.Row("Size", output.Bytes(sum.Bytes))
	t.Row("Frames", fmt.Sprintf("%d screen updates, %d keyframes, %d resizes", sum.Frames, sum.Keyframes, sum.Resizes))
	t.Row("Input", fmt.Sprintf("%d key events, %d pointer events, %d clipboard transfers", sum.Keys, sum.Pointer, sum.Clipboard))
	complete := "yes"
	if !sum.Complete {
		complete = "no (the session was cut short or is still running)"
	}
	t.Row("Complete", complete)
	if sum.Error != "" {
		t.Row("Damaged", sum.Error)
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "\nTo see the desktop: onepam sessions frames %s DIR [--every 1s] [--at 1m30s],\nonepam sessions export %s --format gif|mp4, or the web console's player;\nin a terminal, onepam sessions replay %s plays it.\n", s.ID, s.ID, s.ID)
	return err
}

// summarizeDesktop decodes a whole deskproto recording and counts it. A
// damaged tail is reported in Error; what came before it is counted.
func summarizeDesktop(f io.ReadSeeker, size int64) (DesktopSummary, error) {
	sum := DesktopSummary{Bytes: size}
	dec, err := deskproto.NewDecoder(f)
	if err != nil {
		return sum, err
	}
	h := dec.Header()
	sum.Width, sum.Height = h.Width, h.Height
	for {
		ev, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			sum.Error = err.Error()
			break
		}
		sum.Events++
		sum.Duration = ev.T.Seconds()
		switch ev.Type {
		case deskproto.EventRect, deskproto.EventFill, deskproto.EventCopy:
			sum.Frames++
		case deskproto.EventKeyframe:
			sum.Keyframes++
			sum.Width, sum.Height = ev.W, ev.H
		case deskproto.EventResize:
			sum.Resizes++
			sum.Width, sum.Height = ev.W, ev.H
		case deskproto.EventKey:
			sum.Keys++
		case deskproto.EventPointer:
			sum.Pointer++
		case deskproto.EventClipboard:
			sum.Clipboard++
		}
	}
	sum.Complete = dec.Ended()
	return sum, nil
}

// spoolRecording copies a recording's native stream into a temporary file
// (players need random access) and returns it with its size.
func spoolRecording(rc io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "onepam-recording-*")
	if err != nil {
		return nil, 0, fmt.Errorf("spool the recording: %w", err)
	}
	n, err := io.Copy(f, recordings.Inner(rc))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		removeSpool(f)
		return nil, 0, fmt.Errorf("spool the recording: %w", err)
	}
	return f, n, nil
}

func removeSpool(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}
