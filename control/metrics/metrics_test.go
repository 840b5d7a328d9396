package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetricsExposition(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(func() time.Time { return now })
	m.SessionCreated(api.TypeTCP)
	m.SessionStarted("s1", api.TypeTCP)
	m.AgentOnline("a1", true)
	m.AgentOnline("a2", true)
	m.AgentOnline("a1", false)
	m.AddBytes(10, 20)
	m.HTTPRequest("GET /v1/whoami", 200)
	m.HTTPRequest("", 404)
	now = now.Add(3 * time.Second)

	out := scrape(t, m)
	for _, want := range []string{
		`onepam_sessions_created_total{type="tcp"} 1`,
		`onepam_sessions_active{type="tcp"} 1`,
		`onepam_agents_online 1`,
		`onepam_bytes_total{direction="up"} 10`,
		`onepam_bytes_total{direction="down"} 20`,
		`onepam_http_requests_total{code="200",route="GET /v1/whoami"} 1`,
		`onepam_http_requests_total{code="404",route="unmatched"} 1`,
		`onepam_recording_upload_lag_seconds 3`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	m.RecordingAcked("s1")
	if out := scrape(t, m); !strings.Contains(out, "onepam_recording_upload_lag_seconds 0\n") {
		t.Errorf("lag after ack not 0")
	}
	m.SessionEnded("s1", api.TypeTCP, api.StatusCompleted, true)
	out = scrape(t, m)
	for _, want := range []string{
		`onepam_sessions_active{type="tcp"} 0`,
		`onepam_sessions_ended_total{status="completed",type="tcp"} 1`,
		"onepam_recording_upload_lag_seconds 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.SessionCreated(api.TypeTCP)
	m.SessionStarted("x", api.TypeTCP)
	m.SessionEnded("x", api.TypeTCP, api.StatusFailed, true)
	m.AddBytes(1, 1)
	m.AgentOnline("a", true)
	m.RecordingAcked("x")
	m.HTTPRequest("r", 200)
}
