package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
)

// Version and Commit are set at build time:
//
//	go build -ldflags "-X github.com/onepam/onepam/pkg/cli.Version=v1.2.3 -X github.com/onepam/onepam/pkg/cli.Commit=abc123" ./cmd/onepam
//
// When empty, they come from the module's build information.
var (
	Version string
	Commit  string
)

// BuildInfo describes the running binary (`onepam version -o json`).
type BuildInfo struct {
	Version   string `json:"version"`    // release version, or the module version, or "dev"
	Commit    string `json:"commit"`     // VCS revision ("" when unknown)
	GoVersion string `json:"go_version"` // the Go toolchain that built it
	Platform  string `json:"platform"`   // GOOS/GOARCH
}

// ReadBuildInfo returns the binary's version information.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		if b.Commit == "" {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					b.Commit = s.Value
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// VersionString is the version shown by --version and sent as User-Agent.
func VersionString() string { return ReadBuildInfo().Version }

// VersionOptions are the options of `onepam version`.
type VersionOptions struct {
	IO     *iostreams.IOStreams
	Format output.Format
}

// NewCmdVersion returns `onepam version`.
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of onepam",
		Example: `  onepam version
  onepam version -o json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVersion(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runVersion(_ context.Context, opts *VersionOptions) error {
	b := ReadBuildInfo()
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, b)
	}
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	_, err := fmt.Fprintf(opts.IO.Out, "onepam %s (commit %s, %s, %s)\n", b.Version, commit, b.GoVersion, b.Platform)
	return err
}
