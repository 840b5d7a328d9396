package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		code    int
		message string
	}{
		{"nil", nil, ExitOK, ""},
		{"generic", errors.New("boom"), ExitError, "boom"},
		{"usage", FlagErrorf("bad --since"), ExitUsage, "bad --since"},
		{"cobra usage", errors.New(`unknown flag: --nope`), ExitUsage, "unknown flag: --nope"},
		{"not logged in", fmt.Errorf("whoami: %w", ErrNotLoggedIn), ExitAuth, "whoami: not logged in: run onepam login --control URL --token TOKEN"},
		{"unknown CA", client.ErrUnknownCA, ExitAuth, client.ErrUnknownCA.Error()},
		{"unauthenticated", api.Errorf(api.CodeUnauthenticated, "token expired"), ExitAuth, "not authenticated: token expired: run onepam login --control URL --token TOKEN"},
		{"unauthenticated with a hint", api.Errorf(api.CodeUnauthenticated, "token expired: run onepam login --control URL --token TOKEN"), ExitAuth, "not authenticated: token expired: run onepam login --control URL --token TOKEN"},
		{"forbidden", api.Errorf(api.CodeForbidden, "auditors may not kill sessions"), ExitDenied, "denied: auditors may not kill sessions"},
		{"not found", fmt.Errorf("show: %w", api.Errorf(api.CodeNotFound, "no session x")), ExitNotFound, "show: no session x"},
		{"target failed", api.Errorf(api.CodeTargetFailed, "agent a1 is offline"), ExitTargetFailed, "agent a1 is offline"},
		{"agent on another node", api.Errorf(api.CodeOtherNode, `agent "a1" is attached to control node n2`), ExitTargetFailed, `agent "a1" is attached to control node n2`},
		{"terminated", api.Errorf(api.CodeTerminated, "session terminated by an administrator (alice)"), ExitTerminated, "session terminated by an administrator (alice)"},
		{"conflict", api.Errorf(api.CodeConflict, "user bob exists"), ExitError, "user bob exists"},
		{"unreachable", &client.NetworkError{URL: "https://c:7443", Err: errors.New("connection refused")}, ExitUnreachable, "cannot reach control at https://c:7443: connection refused"},
		{"interrupted", context.Canceled, ExitError, "interrupted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := Classify(tc.err)
			if code != tc.code || msg != tc.message {
				t.Fatalf("Classify = %d %q, want %d %q", code, msg, tc.code, tc.message)
			}
			if ExitCode(tc.err) != tc.code {
				t.Fatal("ExitCode disagrees with Classify")
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"1h", now.Add(-time.Hour), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"2025-05-01T00:00:00Z", time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), false},
		{"yesterday", time.Time{}, true},
		{"-1h", time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTime("since", tc.in, now)
			if (err != nil) != tc.wantErr || !got.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, %v", tc.in, got, err)
			}
			if err != nil && ExitCode(err) != ExitUsage {
				t.Fatalf("error %v is not a usage error", err)
			}
		})
	}
}

func TestListsAndLabels(t *testing.T) {
	st, err := ParseStatuses([]string{"active,failed", "Completed"})
	if err != nil || fmt.Sprint(st) != "[active failed completed]" {
		t.Fatalf("statuses = %v, %v", st, err)
	}
	if _, err := ParseTypes([]string{"tcp,nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("err = %v", err)
	}
	l, err := ParseLabels("label", []string{"env=dev", "team=a,tier=1"})
	if err != nil || len(l) != 3 || l["tier"] != "1" {
		t.Fatalf("labels = %v, %v", l, err)
	}
	if _, err := ParseLabels("label", []string{"novalue"}); ExitCode(err) != ExitUsage {
		t.Fatalf("err = %v", err)
	}
}
