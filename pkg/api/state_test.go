package api

import (
	"errors"
	"testing"
)

func TestCheckTransition(t *testing.T) {
	legal := map[[2]SessionStatus]bool{
		{StatusPending, StatusActive}:     true,
		{StatusPending, StatusTerminated}: true,
		{StatusPending, StatusFailed}:     true,
		{StatusActive, StatusCompleted}:   true,
		{StatusActive, StatusTerminated}:  true,
		{StatusActive, StatusFailed}:      true,
	}
	for _, from := range SessionStatuses {
		for _, to := range SessionStatuses {
			t.Run(string(from)+"→"+string(to), func(t *testing.T) {
				err := CheckTransition(from, to)
				if legal[[2]SessionStatus{from, to}] {
					if err != nil {
						t.Fatalf("legal move refused: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("illegal move allowed (err %v)", err)
				}
			})
		}
	}
	if err := CheckTransition("bogus", StatusActive); err == nil {
		t.Fatal("unknown state accepted")
	}
}

func TestTerminal(t *testing.T) {
	for _, s := range SessionStatuses {
		want := s == StatusCompleted || s == StatusTerminated || s == StatusFailed
		if s.Terminal() != want {
			t.Errorf("%s.Terminal() = %v", s, !want)
		}
		// Nothing leaves a terminal state.
		if s.Terminal() {
			for _, to := range SessionStatuses {
				if CheckTransition(s, to) == nil {
					t.Errorf("%s → %s allowed", s, to)
				}
			}
		}
	}
}

func TestParse(t *testing.T) {
	if _, err := ParseSessionType("TCP"); err != nil {
		t.Error(err)
	}
	if _, err := ParseSessionType("telnet"); err == nil {
		t.Error("telnet accepted")
	}
	if _, err := ParseSessionStatus("done"); err == nil {
		t.Error("status done accepted")
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("role root accepted")
	}
	if RecordingFormatFor(TypeSSH) != FormatAsciicast || RecordingFormatFor(TypeTCP) != FormatConnlog {
		t.Error("recording formats")
	}
}
