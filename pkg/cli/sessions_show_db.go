package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// writeQuerylogCounts adds the "Statements" section of `sessions show` for
// a session recorded as a query log: statements, errors and rows counted
// over the recording. Other sessions, and those without a readable
// recording, get nothing (the Recording section says why).
func writeQuerylogCounts(ctx context.Context, w io.Writer, ios *iostreams.IOStreams, c *client.Client, s *api.Session) error {
	if s.Recording.Format != api.FormatQuerylog || !s.Recording.Available || s.Recording.State == api.RecordingExpired {
		return nil
	}
	rc, err := c.Recording(ctx, s.ID)
	if err != nil {
		return nil
	}
	defer rc.Close()
	sum, sumErr := querylog.Summarize(recordings.Inner(rc))
	rows := [][2]string{
		{"Statements", strconv.FormatInt(sum.Statements, 10)},
		{"Errors", strconv.FormatInt(sum.Errors, 10)},
		{"Rows", strconv.FormatInt(sum.Rows, 10)},
	}
	if sumErr != nil {
		rows = append(rows, [2]string{"Damaged", sumErr.Error()})
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w, ios.ColorScheme().Bold("Statements")); err != nil {
		return err
	}
	t := output.NewTable(w)
	for _, r := range rows {
		t.Row("  "+r[0], r[1])
	}
	return t.Render()
}
