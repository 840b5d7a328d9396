package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/connlog"
)

// replayConnlog prints a TCP session's connection log.
func replayConnlog(_ context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error {
	events, decErr := readConnlog(rc)
	if decErr != nil && len(events) == 0 {
		return fmt.Errorf("recording of session %s: %w", s.ID, decErr)
	}
	if opts.Format.IsJSON() {
		if err := output.WriteJSON(opts.IO.Out, events); err != nil {
			return err
		}
	} else if err := writeConnlogTable(opts.IO.Out, events); err != nil {
		return err
	}
	if decErr != nil {
		return fmt.Errorf("recording of session %s is damaged after %d events: %w", s.ID, len(events), decErr)
	}
	return nil
}

// readConnlog decodes every event it can; on a malformed line it returns
// the events before it and the error.
func readConnlog(r io.Reader) ([]connlog.Event, error) {
	dec := connlog.NewDecoder(r)
	events := []connlog.Event{}
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}

func writeConnlogTable(w io.Writer, events []connlog.Event) error {
	t := output.NewTable(w)
	t.Header("TIME", "CONN", "EVENT", "PEER", "UP", "DOWN", "DURATION", "ERROR")
	for _, e := range events {
		up, down, dur := "-", "-", "-"
		if e.Event == connlog.EventClose {
			up, down = output.Bytes(e.BytesUp), output.Bytes(e.BytesDown)
			dur = seconds(e.Duration)
		}
		t.Row(seconds(e.T), fmt.Sprint(e.Conn), e.Event, output.Dash(e.Peer), up, down, dur, output.Dash(e.Error))
	}
	return t.Render()
}

// seconds formats a number of seconds: "1.234s" below a minute, else the
// human duration.
func seconds(v float64) string {
	if v < 60 {
		return fmt.Sprintf("%.3fs", v)
	}
	return output.Duration(time.Duration(v * float64(time.Second)))
}
