package asciicast

import (
	"fmt"
	"io"
	"math"
	"time"
)

// PlayOptions tune a Player. The zero value plays at real pace from the start.
type PlayOptions struct {
	// Speed multiplies the pace: 2 plays twice as fast. 0 means 1.
	Speed float64
	// IdleLimit caps every pause between two events (in recording time,
	// before Speed applies); 0 means no cap.
	IdleLimit time.Duration
	// From is the recording time to start at: every event before it is
	// returned with a zero wait, so that the caller can rebuild the screen
	// instantly.
	From time.Duration
}

func (o PlayOptions) withDefaults() PlayOptions {
	if o.Speed <= 0 || math.IsNaN(o.Speed) || math.IsInf(o.Speed, 0) {
		o.Speed = 1
	}
	if o.IdleLimit < 0 {
		o.IdleLimit = 0
	}
	if o.From < 0 {
		o.From = 0
	}
	return o
}

// Step is one event of a replay and how long to wait before showing it.
type Step struct {
	Wait time.Duration // pause before this event, after Speed and IdleLimit
	Record
}

// Player turns a recording (stored form or asciicast v2) into Steps. It does
// no sleeping and reads no clock: the caller waits Step.Wait with its own
// clock (and can pause, or change speed with SetSpeed between steps).
// Jumping forward is SkipTo; jumping back is a new Player over the same
// recording with From set. A Player is not safe for concurrent use.
type Player struct {
	src  recordSource
	opt  PlayOptions
	prev time.Duration // recording time of the previous event (or From)
}

// NewPlayer reads the recording's header from src.
func NewPlayer(src io.Reader, opt PlayOptions) (*Player, error) {
	s, err := openRecords(src)
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	return &Player{src: s, opt: opt, prev: opt.From}, nil
}

// Header returns the recording's header.
func (p *Player) Header() Header { return p.src.Header() }

// Speed returns the current speed factor.
func (p *Player) Speed() float64 { return p.opt.Speed }

// SetSpeed changes the speed for the following steps; values ≤ 0 are
// ignored.
func (p *Player) SetSpeed(s float64) {
	if s > 0 && !math.IsInf(s, 0) {
		p.opt.Speed = s
	}
}

// Position returns the recording time of the last step returned (or the
// start offset before the first).
func (p *Player) Position() time.Duration { return p.prev }

// SkipTo makes every event before recording time t come with a zero wait,
// as From does at the start. Times before the current position change
// nothing.
func (p *Player) SkipTo(t time.Duration) {
	if t > p.prev {
		p.opt.From = t
		p.prev = t
	}
}

// Next returns the next step, io.EOF after the last, or the recording's
// error. Step.Data is valid until the following call.
func (p *Player) Next() (Step, error) {
	rec, err := p.src.Next()
	if err != nil {
		if err == io.EOF {
			return Step{}, io.EOF
		}
		return Step{}, fmt.Errorf("asciicast: play: %w", err)
	}
	st := Step{Record: rec}
	if rec.Time <= p.opt.From {
		return st, nil
	}
	gap := rec.Time - p.prev
	if gap < 0 {
		gap = 0
	}
	if p.opt.IdleLimit > 0 && gap > p.opt.IdleLimit {
		gap = p.opt.IdleLimit
	}
	st.Wait = time.Duration(float64(gap) / p.opt.Speed)
	if rec.Time > p.prev {
		p.prev = rec.Time
	}
	return st, nil
}
