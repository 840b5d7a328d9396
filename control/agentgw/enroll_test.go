package agentgw_test

import (
	"crypto/x509"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/agentgw/agentgwtest"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

func TestEnrollOnce(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	tok := e.token(time.Hour)
	id, err := agentgwtest.Enroll(ctx, e.addr, e.ca.Pin(), tok, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "web-1" || id.Cert.Leaf.Subject.CommonName != id.AgentID {
		t.Fatalf("identity %q, CN %q, id %q", id.Name, id.Cert.Leaf.Subject.CommonName, id.AgentID)
	}
	if _, err := id.Cert.Leaf.Verify(x509.VerifyOptions{Roots: e.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("agent certificate: %v", err)
	}
	rec, err := e.store.GetAgent(ctx, id.AgentID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Name != "web-1" || rec.Hostname != "test-host" || rec.CertSerial == "" {
		t.Fatalf("agent row %+v", rec)
	}

	_, err = agentgwtest.Enroll(ctx, e.addr, e.ca.Pin(), tok, "web-2")
	var refused *agentgwtest.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Message, "already used or expired") ||
		!strings.Contains(refused.Message, "onepam agents token create") {
		t.Fatalf("second use of the token: %v", err)
	}

	events, err := e.store.ListAudit(ctx, store.AuditFilter{Action: "agent.enroll"})
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, ev := range events {
		outcomes[ev.Outcome]++
	}
	if outcomes[api.OutcomeSuccess] != 1 || outcomes[api.OutcomeDenied] != 1 {
		t.Fatalf("audit events %+v", events)
	}
	if s := e.gw.Stats(); s.Enrollments != 1 || s.EnrollmentsDenied != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEnrollRefused(t *testing.T) {
	e := newEnv(t, nil)
	e.enroll("taken")
	_, goodCSR, err := agentgwtest.NewCSR()
	if err != nil {
		t.Fatal(err)
	}
	badCSR := append([]byte(nil), goodCSR...)
	badCSR[len(badCSR)-3] ^= 0xff
	tests := []struct {
		name string
		req  func() api.EnrollRequest
		want string
		// tokenKept: the refusal must not consume the token.
		tokenKept bool
	}{
		{"expired token", func() api.EnrollRequest {
			return api.EnrollRequest{Token: e.token(-time.Minute), Name: "a1", CSR: goodCSR}
		}, "already used or expired", false},
		{"unknown token", func() api.EnrollRequest {
			return api.EnrollRequest{Token: "no-such-token", Name: "a2", CSR: goodCSR}
		}, "already used or expired", false},
		{"empty token", func() api.EnrollRequest {
			return api.EnrollRequest{Name: "a3", CSR: goodCSR}
		}, "no enrollment token", false},
		{"bad CSR signature", func() api.EnrollRequest {
			return api.EnrollRequest{Token: e.token(time.Hour), Name: "a4", CSR: badCSR}
		}, "bad certificate request", true},
		{"garbage CSR", func() api.EnrollRequest {
			return api.EnrollRequest{Token: e.token(time.Hour), Name: "a5", CSR: []byte("junk")}
		}, "bad certificate request", true},
		{"name taken", func() api.EnrollRequest {
			return api.EnrollRequest{Token: e.token(time.Hour), Name: "taken", CSR: goodCSR}
		}, "already enrolled", true},
		{"bad name", func() api.EnrollRequest {
			return api.EnrollRequest{Token: e.token(time.Hour), Name: "../etc", CSR: goodCSR}
		}, "bad agent name", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxTimeout(t)
			req := tt.req()
			resp, err := agentgwtest.Exchange(ctx, e.addr, e.ca.Pin(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(resp.Error, tt.want) || resp.AgentID != "" || len(resp.CertPEM) != 0 {
				t.Fatalf("answer %+v, want error containing %q", resp, tt.want)
			}
			if tt.tokenKept {
				req.Name, req.CSR = "kept-"+strings.ReplaceAll(tt.name, " ", "-"), goodCSR
				resp, err := agentgwtest.Exchange(ctx, e.addr, e.ca.Pin(), req)
				if err != nil || resp.Error != "" {
					t.Fatalf("token consumed by a refused enrollment: %v %q", err, resp.Error)
				}
			}
		})
	}
}

// TestEnrollWholeToken: an agent sending the whole "<secret>.<pin>" token
// is understood.
func TestEnrollWholeToken(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(time.Hour) + "." + strings.TrimPrefix(e.ca.Pin(), "sha256:")
	if _, err := agentgwtest.Enroll(ctxTimeout(t), e.addr, e.ca.Pin(), tok, "whole"); err != nil {
		t.Fatal(err)
	}
}

// TestNoCertificateNoEnrollment: a connection without certificate that
// sends anything but an enrollment is closed without an answer.
func TestNoCertificateNoEnrollment(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		name  string
		write func(w io.Writer) error
	}{
		{"control header", func(w io.Writer) error {
			return tunnel.WriteHeader(w, api.StreamControl, api.AgentHello{Version: "x"})
		}},
		{"bad magic", func(w io.Writer) error { _, err := w.Write([]byte("GET / HTTP/1.1\r\n\r\n")); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := agentgwtest.DialEnroll(ctxTimeout(t), e.addr, e.ca.Pin())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := tt.write(c); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := c.Read(make([]byte, 1))
			if n != 0 || err == nil {
				t.Fatalf("read %d bytes, %v; want the connection closed", n, err)
			}
		})
	}
}
