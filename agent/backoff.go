package agent

import (
	"math/rand/v2"
	"time"
)

// backoff yields reconnect delays: exponential from min to max with full
// jitter (a uniformly random delay between 0 and the current ceiling).
type backoff struct {
	min, max time.Duration
	attempt  int
	rand     func() float64 // [0, 1)
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, rand: rand.Float64}
}

// ceiling returns the upper bound of the next delay.
func (b *backoff) ceiling() time.Duration {
	d := b.min
	for i := 0; i < b.attempt && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// next returns the next delay and advances.
func (b *backoff) next() time.Duration {
	c := b.ceiling()
	b.attempt++
	return time.Duration(b.rand() * float64(c))
}

// reset starts again from min (after a link that lived long enough).
func (b *backoff) reset() { b.attempt = 0 }
