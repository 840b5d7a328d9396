package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
)

// SessionsExportOptions are the options of `onepam sessions export`.
type SessionsExportOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
	Out    string        // file, "-" for stdout, "" for <id><ext>
	Format string        // native, raw, deskproto (desktops), gif or mp4 (desktops)
	Every  time.Duration // gif and mp4: interval between frames
}

// nativeExt mirrors control's export extensions (recordings.NativeExt).
func nativeExt(f api.RecordingFormat) string {
	switch f {
	case api.FormatAsciicast:
		return ".cast"
	case api.FormatHAR:
		return ".har"
	case api.FormatDeskproto:
		return ".dpr"
	}
	return ".jsonl"
}

// NewCmdSessionsExport returns `onepam sessions export`.
func NewCmdSessionsExport(f *cmdutil.Factory, runF func(context.Context, *SessionsExportOptions) error) *cobra.Command {
	opts := &SessionsExportOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write a session's recording to a file (.cast, .jsonl, .har, .dpr, .gif, .mp4)",
		Long: `Write a session's recording to a file in its native format: asciicast v2
(.cast) for SSH sessions, JSON lines (.jsonl) for TCP connection logs and
database query logs, HAR 1.2 (.har) for web sessions, deskproto (.dpr) for
desktops. --format raw writes the stored recording container (.oprec) as
control holds it, with its hash chain and the agent's signature, for
archiving as evidence.

Desktop sessions (vnc, rdp) also export as video: --format gif writes an
animated GIF and --format mp4 an H.264 video (through ffmpeg, which must
be installed: Debian package ffmpeg), with the screen sampled every
--every (default 200ms); --format deskproto is their native stream (.dpr).

Without -o the file is named after the session (ID.cast, ...); -o - writes
to standard output. A progress bar shows on a terminal for large
recordings. Every export is recorded in the audit log.`,
		Example: `  onepam sessions export 0197a1b2-...
  onepam sessions export 0197a1b2-... -o session.cast
  onepam sessions export 0197a1b2-... --format raw -o evidence.oprec
  onepam sessions export 0197a1b2-... --format gif -o desktop.gif`,
		Args: cmdutil.ExactArgs(1, "the session's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Format != "native" && opts.Format != "raw" && !isDesktopFormat(opts.Format) {
				return cmdutil.FlagErrorf("--format %q: want native, raw, or for desktops deskproto, gif or mp4", opts.Format)
			}
			if opts.Every <= 0 {
				return cmdutil.FlagErrorf("--every %s: want a positive interval, e.g. 200ms", opts.Every)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSessionsExport(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Out, "output-file", "o", "", "file to write (default ID.<ext>; - for standard output)")
	cmd.Flags().StringVar(&opts.Format, "format", "native", "native (.cast, .jsonl, .har, .dpr), raw (the signed container, .oprec), or for desktops deskproto, gif or mp4")
	cmd.Flags().DurationVar(&opts.Every, "every", 200*time.Millisecond, "gif and mp4: interval between frames")
	return cmd
}

func runSessionsExport(ctx context.Context, opts *SessionsExportOptions) (err error) {
	if opts.Format == exportGIF || opts.Format == exportMP4 {
		return exportDesktop(ctx, opts)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	s, err := c.GetSession(ctx, opts.ID)
	if err != nil {
		return err
	}
	format := s.Recording.Format
	if format == "" {
		format = api.RecordingFormatFor(s.Type)
	}
	if s.Recording.State == api.RecordingExpired && s.Recording.Notice != "" {
		return fmt.Errorf("session %s: %s", s.ID, s.Recording.Notice)
	}
	if opts.Format == exportDeskproto {
		if err := checkDeskprotoExport(s, format); err != nil {
			return err
		}
	}
	want, ext := "native", nativeExt(format)
	if opts.Format == "raw" {
		want, ext = "container", ".oprec"
	}
	d, err := c.RecordingAs(ctx, s.ID, want)
	if err != nil {
		return err
	}
	defer d.Body.Close()
	path := opts.Out
	if path == "" {
		path = s.ID + ext
	}
	var dst io.Writer = opts.IO.Out
	if path != "-" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("export: %w", cerr)
			}
			if err != nil {
				os.Remove(path)
			}
		}()
		dst = f
	}
	total := d.Size
	if total <= 0 {
		total = d.RawSize
	}
	var bar io.Writer
	if opts.IO.IsStderrTTY() {
		bar = opts.IO.ErrOut
	}
	pw := newProgressWriter(dst, bar, total, "exporting "+s.ID)
	n, err := io.Copy(pw, d.Body)
	pw.Done()
	if err != nil {
		return fmt.Errorf("export the recording of session %s: %w", s.ID, err)
	}
	if n == 0 {
		return errors.New("export: control sent an empty recording")
	}
	if path != "-" {
		fmt.Fprintf(opts.IO.ErrOut, "wrote %s (%d bytes)\n", path, n)
	}
	return nil
}
