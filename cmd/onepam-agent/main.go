// Command onepam-agent is the OnePAM agent; see agent/agentcli.
package main

import (
	"os"

	"github.com/onepam/onepam/agent/agentcli"
)

func main() { os.Exit(agentcli.Main()) }
