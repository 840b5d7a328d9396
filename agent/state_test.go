package agent

import (
	"testing"
	"time"
)

func TestStateTransitions(t *testing.T) {
	all := []State{StateDisconnected, StateConnecting, StateConnected, StateStopped, StateRevoked}
	legal := map[[2]State]bool{
		{StateDisconnected, StateConnecting}: true,
		{StateDisconnected, StateStopped}:    true,
		{StateConnecting, StateConnected}:    true,
		{StateConnecting, StateDisconnected}: true,
		{StateConnecting, StateStopped}:      true,
		{StateConnecting, StateRevoked}:      true,
		{StateConnected, StateDisconnected}:  true,
		{StateConnected, StateStopped}:       true,
		{StateConnected, StateRevoked}:       true,
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(from.String()+"→"+to.String(), func(t *testing.T) {
				err := checkStateTransition(from, to)
				if legal[[2]State{from, to}] != (err == nil) {
					t.Fatalf("checkStateTransition = %v, legal = %v", err, legal[[2]State{from, to}])
				}
			})
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(100*time.Millisecond, 10*time.Second)
	b.rand = func() float64 { return 0.999999 }
	var ceilings []time.Duration
	for i := 0; i < 10; i++ {
		ceilings = append(ceilings, b.ceiling())
		if d := b.next(); d < 0 || d > ceilings[i] {
			t.Fatalf("delay %v outside [0, %v]", d, ceilings[i])
		}
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000, 10000}
	for i, c := range ceilings {
		if c != want[i]*time.Millisecond {
			t.Fatalf("ceilings %v", ceilings)
		}
	}
	b.rand = func() float64 { return 0 }
	if d := b.next(); d != 0 {
		t.Fatalf("full jitter allows 0, got %v", d)
	}
	b.reset()
	if c := b.ceiling(); c != 100*time.Millisecond {
		t.Fatalf("after reset ceiling %v", c)
	}
}
