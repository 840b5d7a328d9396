// Package pgtest gives tests a database of their own on the machine's
// PostgreSQL: NewDatabase creates one with a random name and drops it
// when the test ends.
//
// The server is 127.0.0.1:5432, user postgres, trust authentication (as
// scripts/test starts it), or the one ONEPAM_TEST_POSTGRES names (a
// postgres:// URL of a role that may create databases). When it cannot
// be reached the test is skipped, except with CI=true, where it fails: a
// missing PostgreSQL must not pass CI silently.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server tests use unless ONEPAM_TEST_POSTGRES is set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the server tests use (its maintenance
// database).
func ServerURL() string {
	if u := os.Getenv("ONEPAM_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates an empty database with a random name and returns
// its URL; the database is dropped (its connections closed) when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server := ServerURL()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL at %s (CI=true: scripts/test starts it): %v", redact(server), err)
		}
		t.Skipf("no PostgreSQL at %s: %v", redact(server), err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "onepam_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("ONEPAM_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact drops the password of a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(malformed URL)"
	}
	return u.Redacted()
}
