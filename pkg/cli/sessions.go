package cli

import (
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
)

func newCmdSessions(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("sessions", "List, show, kill and replay sessions", `  onepam sessions ls --status active
  onepam sessions show 0197...
  onepam sessions kill 0197... --reason "unplanned access"
  onepam sessions replay 0197...`)
	cmd.AddCommand(NewCmdSessionsList(f, nil), NewCmdSessionsShow(f, nil), NewCmdSessionsKill(f, nil), NewCmdSessionsReplay(f, nil))
	cmd.AddCommand(NewCmdSessionsFiles(f, nil), NewCmdSessionsSearch(f, nil), NewCmdSessionsWatch(f, nil))
	cmd.AddCommand(NewCmdSessionsFrames(f, nil), NewCmdSessionsSnapshot(f, nil), NewCmdSessionsVerify(f, nil), NewCmdSessionsExport(f, nil))
	return cmd
}

// formatStatus renders a session state for a table: on a terminal, active
// sessions are marked "● active" (green and bold when colour is on),
// pending ones yellow, failed and terminated ones red; elsewhere the bare
// state name.
func formatStatus(io *iostreams.IOStreams, s api.SessionStatus) string {
	if !io.IsStdoutTTY() {
		return string(s)
	}
	cs := io.ColorScheme()
	switch s {
	case api.StatusActive:
		return cs.Green("● active")
	case api.StatusPending:
		return cs.Yellow(string(s))
	case api.StatusFailed, api.StatusTerminated:
		return cs.Red(string(s))
	}
	return string(s)
}
