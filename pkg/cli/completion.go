package cli

import (
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdCompletion returns `onepam completion bash|zsh|fish|powershell`.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Example: `  # bash, for the current shell
  source <(onepam completion bash)
  # zsh, installed
  onepam completion zsh > "${fpath[1]}/_onepam"
  # fish
  onepam completion fish > ~/.config/fish/completions/onepam.fish`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell"},
		Args:      cmdutil.ExactArgs(1, "a shell: bash, zsh, fish or powershell"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := f.IOStreams.Out
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return cmdutil.FlagErrorf("unknown shell %q (want bash, zsh, fish or powershell)", args[0])
		},
	}
}
