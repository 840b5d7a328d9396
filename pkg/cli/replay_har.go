package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/har"
)

// ttyURLWidth is the width of the URL cell on a terminal.
const ttyURLWidth = 70

// replayHAR prints an HTTP session's requests as a table, or with -o json
// the exported HAR 1.2 document.
func replayHAR(_ context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error {
	if opts.Format.IsJSON() {
		if opts.Grep != "" {
			return cmdutil.FlagErrorf("--grep does not apply to -o json, which prints the whole HAR document (filter it with jq)")
		}
		if err := recordings.Export(api.FormatHAR, opts.IO.Out, recordings.Inner(rc)); err != nil {
			return fmt.Errorf("recording of session %s: %w", s.ID, err)
		}
		return nil
	}
	grep, err := compileGrep(opts.Grep)
	if err != nil {
		return err
	}
	dec := har.NewDecoder(recordings.Inner(rc))
	if _, err := dec.Header(); err != nil {
		return fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	t := output.NewTable(opts.IO.Out)
	t.Header("TIME", "METHOD", "URL", "STATUS", "SIZE", "DURATION")
	var decErr error
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			decErr = err
			break
		}
		if grep != nil && !grep.MatchString(e.Request.Method+" "+e.Request.URL) {
			continue
		}
		url := e.Request.URL
		if opts.IO.IsStdoutTTY() {
			url = ellipsis(url, ttyURLWidth)
		}
		t.Row(seconds(e.T), e.Request.Method, url, harStatus(e), harSize(e), fmt.Sprintf("%.1fms", e.Time))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if decErr != nil {
		return fmt.Errorf("recording of session %s is damaged after %d requests: %w", s.ID, t.Len(), decErr)
	}
	return nil
}

// harStatus is the response status, "-" when none came (status 0).
func harStatus(e *har.Entry) string {
	if e.Response.Status == 0 {
		return "-"
	}
	return fmt.Sprint(e.Response.Status)
}

// harSize is the response body size; for a WebSocket the bytes and
// messages each way.
func harSize(e *har.Entry) string {
	if ws := e.WebSocket; ws != nil {
		return fmt.Sprintf("ws ↑%s ↓%s, %d msgs", output.Bytes(ws.BytesUp), output.Bytes(ws.BytesDown), ws.Messages)
	}
	size := e.Response.Content.Size
	if size < 0 {
		size = e.Response.BodySize
	}
	if size < 0 {
		return "-"
	}
	return output.Bytes(size)
}
