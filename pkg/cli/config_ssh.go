package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/spf13/cobra"
)

// ConfigSSHOptions are the options of `onepam config ssh`.
type ConfigSSHOptions struct {
	IO *iostreams.IOStreams
	// Executable is the onepam binary OpenSSH runs.
	Executable string
	// ConfigPath is the CLI config the ProxyCommand uses.
	ConfigPath string
	Suffix     string
}

func newCmdConfig(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("config", "Print configuration for other tools", `  onepam config ssh >> ~/.ssh/config`)
	cmd.AddCommand(NewCmdConfigSSH(f, nil))
	return cmd
}

// NewCmdConfigSSH returns `onepam config ssh`.
func NewCmdConfigSSH(f *cmdutil.Factory, runF func(context.Context, *ConfigSSHOptions) error) *cobra.Command {
	opts := &ConfigSSHOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "ssh",
		Short: "Print the ssh_config block that sends OpenSSH through the gateway",
		Long: `Print an ssh_config block so that OpenSSH's ssh, sftp, scp and rsync (and
Ansible) reach resources through the gateway as LOGIN@RESOURCE.onepam: a
ProxyCommand running onepam proxy ssh, and a known_hosts file of onepam's
own for the agents' SSH host keys.`,
		Example: `  onepam config ssh >> ~/.ssh/config
  ssh ubuntu@web-1.onepam
  sftp deploy@web-1.onepam
  rsync -a ./site/ deploy@web-1.onepam:/srv/www/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the onepam binary: %w", err)
			}
			opts.Executable = exe
			if opts.ConfigPath, err = f.ConfigPath(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runConfigSSH(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Suffix, "suffix", "onepam", "host name suffix that selects the gateway (Host *.SUFFIX)")
	return cmd
}

func runConfigSSH(_ context.Context, opts *ConfigSSHOptions) error {
	knownHosts := filepath.Join(filepath.Dir(opts.ConfigPath), "known_hosts")
	fmt.Fprintf(opts.IO.Out, `# OnePAM: ssh LOGIN@RESOURCE.%[1]s goes through the gateway (printed by onepam config ssh)
Host *.%[1]s
    ProxyCommand %[2]s --config %[3]s proxy ssh %%h --login %%r --suffix %[1]s
    UserKnownHostsFile %[4]s
    StrictHostKeyChecking accept-new
    ServerAliveInterval 30
`, opts.Suffix, quoteSSH(opts.Executable), quoteSSH(opts.ConfigPath), quoteSSH(knownHosts))
	return nil
}

// quoteSSH quotes a path for ssh_config when it has spaces.
func quoteSSH(p string) string {
	if strings.ContainsAny(p, " \t\"") {
		return `"` + strings.ReplaceAll(p, `"`, `\"`) + `"`
	}
	return p
}
