package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// Widths of the statement and parameter cells on a terminal (the whole
// text is in -o json, and in the table when it is not on a terminal).
const (
	ttyStatementWidth = 60
	ttyParamsWidth    = 30
)

// replayQuerylog prints a database session's query log: a table of
// statements, or with -o json the entries as a JSON array.
func replayQuerylog(_ context.Context, opts *SessionsReplayOptions, s api.Session, rc io.Reader) error {
	grep, err := compileGrep(opts.Grep)
	if err != nil {
		return err
	}
	entries, decErr := readQuerylog(recordings.Inner(rc), grep)
	if decErr != nil && len(entries) == 0 {
		return fmt.Errorf("recording of session %s: %w", s.ID, decErr)
	}
	if opts.Format.IsJSON() {
		err = output.WriteJSON(opts.IO.Out, entries)
	} else {
		err = writeQuerylogTable(opts.IO.Out, entries, opts.IO.IsStdoutTTY())
	}
	if err != nil {
		return err
	}
	if decErr != nil {
		return fmt.Errorf("recording of session %s is damaged after %d entries: %w", s.ID, len(entries), decErr)
	}
	return nil
}

// compileGrep compiles the --grep expression ("" = keep everything).
func compileGrep(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, cmdutil.FlagErrorf("--grep %q: %v", expr, err)
	}
	return re, nil
}

// readQuerylog decodes the entries whose statement matches grep (every
// entry when grep is nil). Malformed lines are skipped; the first such
// error is returned with the entries, and a read error ends the log.
func readQuerylog(r io.Reader, grep *regexp.Regexp) ([]querylog.Entry, error) {
	dec := querylog.NewDecoder(r)
	entries := []querylog.Entry{}
	var first error
	for {
		e, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return entries, first
		}
		if err != nil {
			if first == nil {
				first = err
			}
			if errors.Is(err, querylog.ErrMalformed) || errors.Is(err, querylog.ErrLineTooLong) {
				continue
			}
			return entries, first
		}
		if grep != nil && !grep.MatchString(e.Statement) {
			continue
		}
		entries = append(entries, e)
	}
}

func writeQuerylogTable(w io.Writer, entries []querylog.Entry, tty bool) error {
	t := output.NewTable(w)
	t.Header("TIME", "CONN", "DB", "USER", "KIND", "STATEMENT", "PARAMS", "ROWS", "DURATION", "ERROR")
	for _, e := range entries {
		stmt := oneLine(e.Statement)
		params := formatParams(e.Params)
		if tty {
			stmt = ellipsis(stmt, ttyStatementWidth)
			params = ellipsis(params, ttyParamsWidth)
		}
		if e.Name != "" && stmt == "" {
			stmt = "[" + e.Name + "]"
		}
		rows := "-"
		if e.Rows >= 0 && (e.Kind.IsStatement() || e.Rows > 0) {
			rows = fmt.Sprint(e.Rows)
		}
		errText := e.Error
		if e.ErrorCode != "" {
			errText = strings.TrimSpace(e.ErrorCode + " " + errText)
		}
		t.Row(seconds(e.T), fmt.Sprint(e.Conn), output.Dash(e.Database), output.Dash(e.User), string(e.Kind),
			output.Dash(stmt), output.Dash(params), rows, queryDuration(e.Duration), output.Dash(oneLine(errText)))
	}
	return t.Render()
}

// formatParams renders parameter values as a compact JSON array ("" when
// there are none).
func formatParams(params []any) string {
	if len(params) == 0 {
		return ""
	}
	b, err := json.Marshal(params)
	if err != nil {
		return fmt.Sprint(params)
	}
	return string(b)
}

// queryDuration formats a duration in seconds: milliseconds below one
// second ("-" when not measured).
func queryDuration(sec float64) string {
	switch {
	case sec <= 0:
		return "-"
	case sec < 1:
		return fmt.Sprintf("%.2fms", sec*1000)
	}
	return seconds(sec)
}

// oneLine folds runs of white space (newlines included) into one space.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r\t") && !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// ellipsis cuts s to at most n runes, ending it with "…" when cut.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
