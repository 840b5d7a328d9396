// Command onepam is the OnePAM command line; see pkg/cli and docs/cli.md.
package main

import (
	"os"

	"github.com/onepam/onepam/pkg/cli"
)

func main() { os.Exit(cli.Main()) }
