// Package storetest is the conformance suite of store.Store: every
// implementation runs Run against fresh databases of its own, and Seed
// fills a store with realistic sessions for benchmarks and demos.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call and close it when the test ends (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"users", testUsers},
		{"tokens", testTokens},
		{"enroll-tokens", testEnrollTokens},
		{"agents", testAgents},
		{"resources", testResources},
		{"policy", testPolicy},
		{"audit", testAudit},
		{"sessions", testSessions},
		{"transitions", testTransitions},
		{"list-sessions", testListSessions},
		{"seed", testSeed},
		{"file-events", testFileEvents},
		{"search", testSearch},
		{"nodes", testNodes},
		{"web-sessions", testWebSessions},
		{"app-logins", testAppLogins},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) { g.fn(t, open) })
	}
}

// base is the fixed time the suite's data is built around; its nanoseconds
// check that times round-trip at full precision.
var base = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func ctxT(t *testing.T) context.Context { return t.Context() }

// must fails the test on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want one wrapping %v", what, err, target)
	}
}

// sameTime fails unless a and b are the same instant.
func sameTime(t *testing.T, got, want time.Time, what string) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// sameTimePtr compares optional times.
func sameTimePtr(t *testing.T, got, want *time.Time, what string) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Fatalf("%s: got %v, want %v", what, got, want)
	default:
		sameTime(t, *got, *want, what)
	}
}

func ptr[T any](v T) *T { return &v }
