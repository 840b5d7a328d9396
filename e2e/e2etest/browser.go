package e2etest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireBrowser returns node and Debian's Chromium ($CHROMIUM, default
// /usr/bin/chromium) for the browser checks run from the console's ui
// directory uiDir. It fails in CI (CI=true) and skips elsewhere when one
// of them, the console's npm packages (playwright-core) or its built
// assets (embedded in the control binary) are missing.
func RequireBrowser(tb testing.TB, uiDir string) (node, chromium string) {
	tb.Helper()
	missing := func(what string) {
		tb.Helper()
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s (CI=true: a missing peer is a failure; ./scripts/test installs nodejs, npm and chromium and runs ./scripts/web-build)", what)
		}
		tb.Skipf("%s; ./scripts/test installs it (skipping outside CI)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if chromium = os.Getenv("CHROMIUM"); chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		missing(chromium + " is not installed (Debian package chromium)")
	}
	if _, err := os.Stat(filepath.Join(uiDir, "node_modules", "playwright-core")); err != nil {
		missing("the console's npm packages are not installed: run ./scripts/web-build")
	}
	if _, err := os.Stat(filepath.Join(uiDir, "..", "dist", "index.html")); err != nil {
		missing("the console is not built: run ./scripts/web-build")
	}
	return node, chromium
}
