package sessions

import "time"

// endedKeep is how long a session's final byte counters stay with the
// manager after it leaves the registry, and endedMax bounds how many.
const (
	endedKeep = time.Minute
	endedMax  = 4096
)

// endedCounts are the final byte counters of a session that left the
// registry. A reader that read the session's row before the final flush
// and overlays the live counters after the session left would otherwise
// show the row's older counts (0 for a short session).
type endedCounts struct {
	up, down int64
	at       time.Time
}

// endedLog keeps endedCounts in the order sessions ended. Callers hold
// Manager.mu.
type endedLog struct {
	byID  map[string]endedCounts
	order []string
}

// add records id's final counters and drops the entries older than
// endedKeep or beyond endedMax.
func (e *endedLog) add(id string, c endedCounts) {
	if e.byID == nil {
		e.byID = map[string]endedCounts{}
	}
	e.byID[id] = c
	e.order = append(e.order, id)
	drop := 0
	for drop < len(e.order) && (len(e.order)-drop > endedMax || c.at.Sub(e.byID[e.order[drop]].at) > endedKeep) {
		delete(e.byID, e.order[drop])
		drop++
	}
	e.order = e.order[drop:]
}

// get returns id's final counters, if it ended within endedKeep.
func (e *endedLog) get(id string) (endedCounts, bool) {
	c, ok := e.byID[id]
	return c, ok
}
