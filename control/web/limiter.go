package web

import (
	"sync"
	"time"
)

// failLimiter counts failed logins per client IP in a fixed window: after
// max failures within window, that IP's logins are refused until the
// window that began with its first failure ends. A success clears the
// IP's count. In memory: a control restart forgets it.
type failLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*failCount
}

type failCount struct {
	n     int
	since time.Time
}

// maxLimiterEntries bounds the table; expired entries are swept beyond it,
// then the whole table is dropped if still full (a flood of addresses).
const maxLimiterEntries = 100_000

// retryAfter reports how long ip must wait, zero when it may try now.
func (l *failLimiter) retryAfter(ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.m[ip]
	if !ok {
		return 0
	}
	left := l.window - l.now().Sub(c.since)
	if left <= 0 {
		delete(l.m, ip)
		return 0
	}
	if c.n < l.max {
		return 0
	}
	return left
}

// fail records a failed login of ip.
func (l *failLimiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.m == nil {
		l.m = map[string]*failCount{}
	}
	c, ok := l.m[ip]
	if !ok || now.Sub(c.since) >= l.window {
		if len(l.m) >= maxLimiterEntries {
			l.sweepLocked(now)
		}
		c = &failCount{since: now}
		l.m[ip] = c
	}
	c.n++
}

// succeed clears ip's failures.
func (l *failLimiter) succeed(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, ip)
}

func (l *failLimiter) sweepLocked(now time.Time) {
	for ip, c := range l.m {
		if now.Sub(c.since) >= l.window {
			delete(l.m, ip)
		}
	}
	if len(l.m) >= maxLimiterEntries {
		l.m = map[string]*failCount{}
	}
}
