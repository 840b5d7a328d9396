package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// SessionsFilesOptions are the options of `onepam sessions files`.
type SessionsFilesOptions struct {
	IO       *iostreams.IOStreams
	Client   ClientFunc
	Format   output.Format
	Location *time.Location
	ID       string
	Ops      []string
}

// NewCmdSessionsFiles returns `onepam sessions files`.
func NewCmdSessionsFiles(f *cmdutil.Factory, runF func(context.Context, *SessionsFilesOptions) error) *cobra.Command {
	opts := &SessionsFilesOptions{IO: f.IOStreams, Client: f.Client, Location: f.Location}
	var ops []string
	cmd := &cobra.Command{
		Use:   "files ID [--op upload,download,...]",
		Short: "List a session's file activity (SFTP, scp, RDP clipboard and drives)",
		Long: `List the file operations of a session, oldest first: uploads and downloads
(with the bytes moved), deletes, renames, mkdir, rmdir, setstat, symlink and
directory listings made with SFTP or scp; in RDP sessions, clipboard
transfers (protocol rdp-clipboard: upload is the person's clipboard sent to
the desktop, download the desktop's sent to the person; the path is the
format, with the start of text in quotes, or a copied file's name) and
operations on the person's redirected drives (protocol rdp-drive: upload is
a file read by the desktop, download one written). --op keeps only some operations
(repeatable, or a comma list: ` + strings.Join(api.FileOps, ", ") + `).
-o json prints a JSON array (fields session_id, time, protocol, op, path,
path2, bytes, result, error).`,
		Example: `  onepam sessions files 0197a1b2-...
  onepam sessions files 0197a1b2-... --op upload,download
  onepam sessions files 0197a1b2-... -o json | jq 'map(.bytes) | add'`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			opts.Ops = nil
			for _, v := range ops {
				for _, op := range strings.Split(v, ",") {
					op = strings.ToLower(strings.TrimSpace(op))
					if op == "" {
						continue
					}
					if !slices.Contains(api.FileOps, op) {
						return cmdutil.FlagErrorf("--op %q: want one of %s", op, strings.Join(api.FileOps, ", "))
					}
					opts.Ops = append(opts.Ops, op)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsFiles(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	cmd.Flags().StringArrayVar(&ops, "op", nil, "only these operations (repeatable, or a comma list)")
	return cmd
}

func runSessionsFiles(ctx context.Context, opts *SessionsFilesOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	evs, err := c.Files(ctx, opts.ID, opts.Ops)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, evs)
	}
	return writeFileEvents(opts.IO.Out, evs, opts.Location, "")
}

// writeFileEvents prints file events as a table, each row prefixed with
// indent.
func writeFileEvents(w io.Writer, evs []api.FileEvent, loc *time.Location, indent string) error {
	t := output.NewTable(w)
	t.Header(indent+"TIME", "PROTOCOL", "OP", "PATH", "BYTES", "RESULT")
	for _, e := range evs {
		path := e.Path
		if e.Path2 != "" {
			path += " -> " + e.Path2
		}
		bytes := "-"
		if e.Op == api.FileOpUpload || e.Op == api.FileOpDownload {
			bytes = fmt.Sprint(e.Bytes)
		}
		result := e.Result
		if e.Error != "" {
			result += ": " + e.Error
		}
		t.Row(indent+output.Time(e.Time, loc), e.Protocol, e.Op, path, bytes, output.Dash(result))
	}
	return t.Render()
}

// sessionWithFiles is `sessions show -o json` of an ssh or rdp session: the
// session's fields plus "files", its file activity.
type sessionWithFiles struct {
	api.Session
	Files []api.FileEvent `json:"files"`
}

// sessionFiles returns the file activity of an ssh or rdp session (an empty,
// non-nil list when there is none), nil for other types and when the
// caller may not read the session's recording (the recording-access
// setting), of which file activity is part.
func sessionFiles(ctx context.Context, c interface {
	Files(ctx context.Context, id string, ops []string) ([]api.FileEvent, error)
}, s *api.Session) ([]api.FileEvent, error) {
	if s.Type != api.TypeSSH && s.Type != api.TypeRDP {
		return nil, nil
	}
	evs, err := c.Files(ctx, s.ID, nil)
	if api.CodeOf(err) == api.CodeForbidden {
		return nil, nil // part of the recording, which this user may not read
	}
	if err != nil {
		return nil, fmt.Errorf("file activity of session %s: %w", s.ID, err)
	}
	if evs == nil {
		evs = []api.FileEvent{}
	}
	return evs, nil
}

// writeSessionFiles prints the "File activity" section of sessions show
// (nothing for sessions without file activity support).
func writeSessionFiles(w io.Writer, ios *iostreams.IOStreams, evs []api.FileEvent, loc *time.Location) error {
	if evs == nil {
		return nil
	}
	if _, err := fmt.Fprintln(w, "\n"+ios.ColorScheme().Bold("File activity")); err != nil {
		return err
	}
	if len(evs) == 0 {
		_, err := fmt.Fprintln(w, "  none")
		return err
	}
	return writeFileEvents(w, evs, loc, "  ")
}
