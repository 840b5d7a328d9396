package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// BulkInserter is implemented by stores that can insert many sessions in
// any state at once (e.g. (*sqlite.Store).BulkInsertSessions). Seed uses it
// when the store has it.
type BulkInserter interface {
	BulkInsertSessions(ctx context.Context, sessions []api.Session) error
}

// seedBatch is how many sessions Seed hands to BulkInsertSessions at once.
const seedBatch = 20000

// seedStep is the time between two seeded sessions.
const seedStep = 20 * time.Second

// Seed inserts n realistic sessions created before now, oldest first, one
// every 20 s: a mix of types (ssh most, vnc least), 200 users, 300
// resources, mostly completed with some failed and terminated, and active
// or pending sessions only among the newest 0.2%. With a BulkInserter it
// writes 20,000 sessions per call; otherwise it goes through CreateSession
// and Transition.
func Seed(ctx context.Context, s store.Store, n int, now time.Time) error {
	rng := rand.New(rand.NewPCG(0x5eed, uint64(n)))
	bulk, _ := s.(BulkInserter)
	batch := make([]api.Session, 0, min(n, seedBatch))
	for i := 0; i < n; i++ {
		sess := seedSession(rng, i, n, now)
		if bulk == nil {
			if err := createThrough(ctx, s, sess); err != nil {
				return fmt.Errorf("seed session %d: %w", i, err)
			}
			continue
		}
		batch = append(batch, sess)
		if len(batch) == seedBatch || i == n-1 {
			if err := bulk.BulkInsertSessions(ctx, batch); err != nil {
				return fmt.Errorf("seed sessions up to %d: %w", i, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// createThrough writes sess with CreateSession and replays its timeline's
// transitions.
func createThrough(ctx context.Context, s store.Store, sess api.Session) error {
	timeline := sess.Timeline
	final := sess
	sess.Status = api.StatusPending
	sess.StartedAt, sess.EndedAt = nil, nil
	sess.Error, sess.TerminatedBy, sess.TerminateReason = "", "", ""
	sess.Timeline = nil
	if err := s.CreateSession(ctx, sess); err != nil {
		return err
	}
	for _, e := range timeline[1:] {
		if _, err := s.Transition(ctx, sess.ID, store.Transition{To: e.Status, At: e.Time, Actor: e.Actor,
			Detail: e.Detail, Agent: final.Agent}); err != nil {
			return err
		}
	}
	if err := s.AddSessionBytes(ctx, sess.ID, final.BytesUp, final.BytesDown); err != nil {
		return err
	}
	return s.SetRecording(ctx, sess.ID, final.Recording)
}

// seedTypes are the session types with their weights (per 100).
var seedTypes = []struct {
	t api.SessionType
	w int
}{{api.TypeSSH, 35}, {api.TypeDB, 20}, {api.TypeHTTP, 15}, {api.TypeTCP, 15}, {api.TypeRDP, 10}, {api.TypeVNC, 5}}

var seedFailures = []string{
	"dial tcp 192.0.2.10:5432: connect: connection refused",
	"agent connection lost",
	"interrupted: control restarted",
	"never connected",
}

// seedSession makes the i-th of n seeded sessions.
func seedSession(rng *rand.Rand, i, n int, now time.Time) api.Session {
	created := now.Add(-time.Duration(n-i) * seedStep).Add(time.Duration(rng.IntN(int(seedStep / 2))))
	w := rng.IntN(100)
	typ := seedTypes[len(seedTypes)-1].t
	for _, st := range seedTypes {
		if w < st.w {
			typ = st.t
			break
		}
		w -= st.w
	}
	user := fmt.Sprintf("user%03d", rng.IntN(200))
	sess := api.Session{
		ID:        store.IDAt(created),
		User:      user,
		Type:      typ,
		Resource:  fmt.Sprintf("%s-%03d", typ, rng.IntN(50)),
		Agent:     fmt.Sprintf("agent-%02d", rng.IntN(20)),
		ClientIP:  fmt.Sprintf("192.0.2.%d", 1+rng.IntN(254)),
		CreatedAt: created,
		Recording: api.Recording{Format: api.RecordingFormatFor(typ), State: api.RecordingNone},
	}
	switch typ {
	case api.TypeSSH:
		sess.Login = "root"
	case api.TypeDB:
		sess.Login = "postgres"
	}
	sess.Timeline = []api.TimelineEvent{{Time: created, Event: api.EventCreated, Status: api.StatusPending, Actor: user}}

	recent := i >= n-max(n/500, 1)
	r := rng.IntN(100)
	switch {
	case recent && r < 3:
		sess.Status = api.StatusPending
		return sess
	case recent && r < 33:
		sess.Status = api.StatusActive
	}
	started := created.Add(time.Duration(50+rng.IntN(450)) * time.Millisecond)
	if sess.Status != api.StatusActive && rng.IntN(100) < 3 {
		// Failed before it started: the target was unreachable.
		sess.Status = api.StatusFailed
		sess.EndedAt = &started
		sess.Error = seedFailures[0]
		sess.Timeline = append(sess.Timeline, api.TimelineEvent{Time: started, Event: api.EventFailed,
			Status: api.StatusFailed, Detail: sess.Error})
		return sess
	}
	sess.StartedAt = &started
	sess.Timeline = append(sess.Timeline, api.TimelineEvent{Time: started, Event: api.EventStarted, Status: api.StatusActive})
	sess.BytesUp = int64(rng.ExpFloat64() * 20e3)
	sess.BytesDown = int64(rng.ExpFloat64() * 2e6)
	sess.Recording.Size = (sess.BytesUp + sess.BytesDown) / 4
	if sess.Status == api.StatusActive {
		sess.Recording.State = api.RecordingRecording
		return sess
	}
	ended := started.Add(time.Duration(math.Min(rng.ExpFloat64()*20*60, 8*3600) * float64(time.Second)))
	sess.EndedAt = &ended
	sess.Recording.State, sess.Recording.Available = api.RecordingComplete, true
	e := api.TimelineEvent{Time: ended}
	switch r := rng.IntN(100); {
	case r < 5:
		sess.Status = api.StatusFailed
		sess.Error = seedFailures[1+rng.IntN(len(seedFailures)-1)]
		sess.Recording.State = api.RecordingPartial
		e.Detail = sess.Error
	case r < 9:
		sess.Status = api.StatusTerminated
		sess.TerminatedBy, sess.TerminateReason = "admin", "policy violation"
		e.Actor, e.Detail = sess.TerminatedBy, sess.TerminateReason
	default:
		sess.Status = api.StatusCompleted
	}
	e.Event, e.Status = api.EventFor(sess.Status), sess.Status
	sess.Timeline = append(sess.Timeline, e)
	return sess
}
