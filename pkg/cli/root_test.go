package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasExamples walks the command tree.
func TestEveryCommandHasExamples(t *testing.T) {
	e := newTestEnv(t)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" {
			t.Run(c.CommandPath(), func(t *testing.T) {
				if strings.TrimSpace(c.Example) == "" {
					t.Errorf("%s has no examples", c.CommandPath())
				}
				if c.Short == "" {
					t.Errorf("%s has no short description", c.CommandPath())
				}
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCmdRoot(e.factory()))
}

func TestRootHelpListsExitCodes(t *testing.T) {
	e := newTestEnv(t)
	if code := e.run(t, "--help"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	mustContain(t, e.out.String(), "Exit codes:", "7  the session was terminated by an administrator", "ONEPAM_CA_PIN")
	if code := e.run(t, "version", "-o", "json"); code != 0 {
		t.Fatalf("version: exit %d", code)
	}
	mustContain(t, e.out.String(), `"go_version"`, `"commit"`)
	if code := e.run(t, "completion", "bash"); code != 0 || !strings.Contains(e.out.String(), "bash completion") {
		t.Fatalf("completion: exit %d", code)
	}
}
