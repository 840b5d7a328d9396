// Package clocktest is a clock that tests move by hand, for the parts of
// OnePAM that take a clock (a func() time.Time in their Config): node
// heartbeats and timeouts, reapers, retention.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when the test says. It is safe for
// concurrent use; the zero Clock reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock reading at.
func New(at time.Time) *Clock { return &Clock{now: at} }

// Now returns the clock's time (a Config's Clock field takes c.Now).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
