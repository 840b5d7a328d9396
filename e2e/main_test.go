package e2e

import (
	"os"
	"os/exec"
	"testing"
)

// requirePeer fails in CI (CI=true) and skips elsewhere when a peer program
// is missing.
func requirePeer(t *testing.T, prog string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI=true: a missing peer is a failure; ./scripts/test installs it)", prog)
	}
	t.Skipf("%s is not installed; ./scripts/test installs it (skipping outside CI)", prog)
}
