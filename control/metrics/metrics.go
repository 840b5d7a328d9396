// Package metrics holds the control server's Prometheus metrics in a
// registry of its own (never the process-global default), and the
// /metrics handler that exposes them.
//
// Every value is kept up to date by the code that changes it (session
// manager, agent gateway callbacks, HTTP middleware); nothing is computed by
// querying the database per scrape.
//
// Metrics:
//
//	onepam_sessions_active{type}                 gauge: sessions in state active
//	onepam_sessions_created_total{type}          counter: sessions created (pending rows)
//	onepam_sessions_ended_total{type,status}     counter: sessions that reached a terminal state
//	onepam_agents_online                         gauge: agents with a live link
//	onepam_bytes_total{direction="up|down"}      counter: bytes spliced (up = person → target)
//	onepam_recording_upload_lag_seconds          gauge: see below
//	onepam_http_requests_total{route,code}       counter: API requests by mux pattern and status
//
// onepam_recording_upload_lag_seconds is the largest time, over the active
// sessions, since control last acknowledged a recording chunk of that
// session (or since the session became active when nothing was
// acknowledged yet); 0 when no session is active. A gauge of the worst
// current lag answers "is some recording falling behind right now", which a
// histogram of past ack latencies would hide.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the control server's set of metrics. The zero value is not
// usable; call New. A nil *Metrics is accepted by every method and does
// nothing, so that packages can run without metrics in tests.
type Metrics struct {
	reg *prometheus.Registry

	sessionsActive  *prometheus.GaugeVec
	sessionsCreated *prometheus.CounterVec
	sessionsEnded   *prometheus.CounterVec
	agentsOnline    prometheus.Gauge
	bytesUp         prometheus.Counter
	bytesDown       prometheus.Counter
	httpRequests    *prometheus.CounterVec

	clock func() time.Time

	mu         sync.Mutex
	lastAck    map[string]time.Time // active session id → last recording ack (or start)
	agentsSeen map[string]bool      // online agent ids
}

// New returns a Metrics with its own registry. clock may be nil (time.Now).
func New(clock func() time.Time) *Metrics {
	if clock == nil {
		clock = time.Now
	}
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		clock: clock,
		sessionsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "onepam_sessions_active",
			Help: "Sessions currently in state active, by type.",
		}, []string{"type"}),
		sessionsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onepam_sessions_created_total",
			Help: "Sessions created, by type.",
		}, []string{"type"}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onepam_sessions_ended_total",
			Help: "Sessions that reached a terminal state, by type and final status.",
		}, []string{"type", "status"}),
		agentsOnline: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "onepam_agents_online",
			Help: "Agents with a live link to control.",
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "onepam_http_requests_total",
			Help: "API requests, by route pattern and HTTP status code.",
		}, []string{"route", "code"}),
		lastAck:    map[string]time.Time{},
		agentsSeen: map[string]bool{},
	}
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "onepam_bytes_total",
		Help: "Bytes carried through session connections; up = person to target.",
	}, []string{"direction"})
	m.bytesUp = bytes.WithLabelValues("up")
	m.bytesDown = bytes.WithLabelValues("down")
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "onepam_recording_upload_lag_seconds",
		Help: "Largest time over active sessions since the last recording acknowledgement (or since start); 0 when none is active.",
	}, m.recordingLag)
	for _, t := range api.SessionTypes {
		m.sessionsActive.WithLabelValues(string(t))
		m.sessionsCreated.WithLabelValues(string(t))
	}
	m.reg.MustRegister(m.sessionsActive, m.sessionsCreated, m.sessionsEnded, m.agentsOnline, bytes, m.httpRequests, lag)
	return m
}

// Registry returns the registry holding every metric (for tests and
// additional collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SessionCreated counts a new pending session.
func (m *Metrics) SessionCreated(t api.SessionType) {
	if m == nil {
		return
	}
	m.sessionsCreated.WithLabelValues(string(t)).Inc()
}

// SessionStarted records a session entering active.
func (m *Metrics) SessionStarted(id string, t api.SessionType) {
	if m == nil {
		return
	}
	m.sessionsActive.WithLabelValues(string(t)).Inc()
	m.mu.Lock()
	m.lastAck[id] = m.clock()
	m.mu.Unlock()
}

// SessionEnded records a session reaching terminal status to; wasActive
// says whether it had been active (and so is counted in the active gauge).
func (m *Metrics) SessionEnded(id string, t api.SessionType, to api.SessionStatus, wasActive bool) {
	if m == nil {
		return
	}
	if wasActive {
		m.sessionsActive.WithLabelValues(string(t)).Dec()
	}
	m.sessionsEnded.WithLabelValues(string(t), string(to)).Inc()
	m.mu.Lock()
	delete(m.lastAck, id)
	m.mu.Unlock()
}

// RecordingAcked records that control acknowledged recording bytes of a
// session. Sessions that are not active are ignored.
func (m *Metrics) RecordingAcked(id string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if _, ok := m.lastAck[id]; ok {
		m.lastAck[id] = m.clock()
	}
	m.mu.Unlock()
}

func (m *Metrics) recordingLag() float64 {
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	var worst time.Duration
	for _, at := range m.lastAck {
		if d := now.Sub(at); d > worst {
			worst = d
		}
	}
	return worst.Seconds()
}

// AgentOnline records an agent's link going up or down.
func (m *Metrics) AgentOnline(agentID string, online bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if online {
		m.agentsSeen[agentID] = true
	} else {
		delete(m.agentsSeen, agentID)
	}
	n := len(m.agentsSeen)
	m.mu.Unlock()
	m.agentsOnline.Set(float64(n))
}

// AddBytes adds spliced bytes (up = person → target).
func (m *Metrics) AddBytes(up, down int64) {
	if m == nil {
		return
	}
	if up > 0 {
		m.bytesUp.Add(float64(up))
	}
	if down > 0 {
		m.bytesDown.Add(float64(down))
	}
}

// HTTPRequest counts one API request. route is the mux pattern ("" for
// unmatched requests, reported as "unmatched").
func (m *Metrics) HTTPRequest(route string, code int) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}
