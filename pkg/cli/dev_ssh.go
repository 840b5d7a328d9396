package cli

import (
	"fmt"
	"os/user"
	"strings"

	"github.com/onepam/onepam/agent"
)

// devShellName is the built-in SSH demo resource of onepam dev.
const devShellName = "shell"

// devShellResource is onepam dev's SSH demo: the agent's built-in target
// (no sshd: the login shell of this machine through a PTY, with SFTP from
// its filesystem) as the current user.
func devShellResource() (agent.ResourceConfig, error) {
	u, err := user.Current()
	if err != nil {
		return agent.ResourceConfig{}, fmt.Errorf("current user: %w", err)
	}
	r, err := agent.ParseResourceURL(devShellName, "ssh://"+u.Username+"@builtin")
	if err != nil {
		return agent.ResourceConfig{}, err
	}
	r.Labels = map[string]string{"env": "dev"}
	r.Description = "this machine's shell as " + u.Username + " (built-in SSH target of onepam dev)"
	return r, nil
}

// devSpecNamed reports whether a --resource NAME=URL spec uses name.
func devSpecNamed(specs []string, name string) bool {
	for _, spec := range specs {
		if n, _, _ := strings.Cut(spec, "="); n == name {
			return true
		}
	}
	return false
}
