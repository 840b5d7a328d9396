package proxytest

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// SkipOrFail ends the test because something it needs is missing: it
// fails in CI (CI=true) and skips elsewhere.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("required in CI: %v", err)
	}
	t.Skip(err)
}

// RequirePeer returns the path of a program the test needs: missing, it
// fails the test in CI (CI=true) and skips it elsewhere.
func RequirePeer(t testing.TB, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", prog, err)
		}
		t.Skipf("%s not installed: %v", prog, err)
	}
	return p
}

// Poll waits until cond holds, checking every 20 ms, and fails the test
// when it still does not after timeout.
func Poll(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
