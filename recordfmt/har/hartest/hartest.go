// Package hartest checks HAR documents with the real har-validator (the
// npm package, run by node) for the tests of recordfmt/har and the HTTP
// proxy. The validator is installed once with `npm install --no-save` into
// a tools directory outside the repository: $ONEPAM_TOOLS_DIR, or
// <user cache dir>/onepam-tools (scripts/test installs it there before the
// tests run). Without node or npm a test skips, and fails when CI is set
// (CI=true).
package hartest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// RequirePeer returns the path of program, skipping the test when it is
// missing (failing it in CI).
func RequirePeer(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI: %v", program, err)
	}
	t.Skipf("%s not installed: %v", program, err)
	return ""
}

// ValidatorVersion is the har-validator release the tests run; scripts/test
// installs the same one into the same directory.
const ValidatorVersion = "5.1.5"

// toolsDir is where har-validator is installed.
func toolsDir() (string, error) {
	if d := os.Getenv("ONEPAM_TOOLS_DIR"); d != "" {
		return filepath.Join(d, "har-validator"), nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "onepam-tools", "har-validator"), nil
}

// install makes sure har-validator is installed under dir, once, under a
// file lock (test binaries of several packages run at the same time).
func install(t testing.TB, dir string) {
	t.Helper()
	npm := RequirePeer(t, "npm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator", "package.json")); err == nil {
		return
	}
	pkg := filepath.Join(dir, "package.json")
	if _, err := os.Stat(pkg); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(pkg, []byte(`{"name":"onepam-tools","private":true}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(npm, "install", "--no-save", "--no-audit", "--no-fund", "har-validator@"+ValidatorVersion)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install har-validator: %v\n%s", err, out)
	}
}

const script = `
const fs = require('fs');
const v = require('har-validator');
const doc = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'));
v.har(doc).then(() => process.exit(0)).catch(e => {
  console.error(JSON.stringify(e.errors || e.message, null, 1));
  process.exit(1);
});
`

// Validate fails the test unless har-validator accepts doc.
func Validate(t testing.TB, doc []byte) {
	t.Helper()
	node := RequirePeer(t, "node")
	dir, err := toolsDir()
	if err != nil {
		t.Fatal(err)
	}
	install(t, dir)
	f := filepath.Join(t.TempDir(), "doc.har")
	if err := os.WriteFile(f, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "-e", script, f)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("har-validator rejects the document: %v\n%s", err, out)
	}
}
