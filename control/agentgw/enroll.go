package agentgw

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Messages of refused enrollments, shown by the agent.
const (
	msgTokenUsed = "enrollment token already used or expired: create a new one with onepam agents token create"
)

// agentNamePattern: agent names are what people type (onepam agents rm NAME).
var agentNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// enrollError is a refusal whose message is sent to the agent.
type enrollError struct {
	msg   string
	cause error
}

func (e *enrollError) Error() string { return e.msg }
func (e *enrollError) Unwrap() error { return e.cause }

func refusef(cause error, format string, args ...any) error {
	return &enrollError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// serveEnroll handles a connection without a client certificate: one
// api.StreamEnroll header, one api.EnrollResponse, close.
func (g *Gateway) serveEnroll(ctx context.Context, tc *tls.Conn) {
	remote := tc.RemoteAddr().String()
	tc.SetDeadline(time.Now().Add(g.cfg.HandshakeTimeout))
	var req api.EnrollRequest
	if err := tunnel.ExpectHeader(tc, api.StreamEnroll, &req); err != nil {
		g.log.Warn("connection without client certificate did not enroll; closing", "remote", remote, "err", err)
		return
	}
	resp, rec, err := g.enroll(ctx, &req)
	audit := api.AuditEvent{
		ID:       store.NewID(),
		Time:     g.now(),
		Actor:    "agent:" + req.Name,
		Action:   "agent.enroll",
		Target:   req.Name,
		ClientIP: hostOf(tc.RemoteAddr()),
		Fields:   map[string]string{"hostname": req.Hostname, "version": req.Version},
	}
	if err != nil {
		g.enrollDenied.Add(1)
		var ee *enrollError
		msg := "enrollment failed: internal error in control, see its log"
		if errors.As(err, &ee) {
			msg = ee.msg
		}
		resp = api.EnrollResponse{Error: msg}
		audit.Outcome, audit.Detail = api.OutcomeDenied, msg
		g.log.Warn("agent enrollment refused", "remote", remote, "name", req.Name, "err", err)
	} else {
		g.enrolled.Add(1)
		audit.Outcome, audit.Detail = api.OutcomeSuccess, "agent enrolled"
		audit.Actor, audit.Target = "agent:"+rec.Name, rec.Name
		audit.Fields["agent_id"] = rec.ID
		audit.Fields["cert_serial"] = rec.CertSerial
		g.log.Info("agent enrolled", "remote", remote, "agent", rec.Name, "id", rec.ID, "version", req.Version)
	}
	actx, cancel := storeCtx(ctx)
	if err := g.cfg.Store.AddAudit(actx, audit); err != nil {
		g.log.Error("audit agent.enroll", "err", err)
	}
	cancel()
	if err := tunnel.WriteFrame(tc, resp); err != nil {
		g.log.Warn("send enrollment answer", "remote", remote, "err", err)
		return
	}
	// Let the agent read the answer and close first: closing with unread
	// data in our receive buffer could reset the connection under it.
	tc.CloseWrite()
	io.Copy(io.Discard, io.LimitReader(tc, 64<<10))
}

// enroll checks an enrollment request, consumes the token and creates the
// agent. Errors of type *enrollError carry the message for the agent.
func (g *Gateway) enroll(ctx context.Context, req *api.EnrollRequest) (api.EnrollResponse, store.AgentRecord, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = strings.TrimSpace(req.Hostname)
	}
	if !agentNamePattern.MatchString(name) {
		return api.EnrollResponse{}, store.AgentRecord{}, refusef(nil, "bad agent name %q: use 1 to 63 letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	req.Name = name
	csr, err := x509.ParseCertificateRequest(req.CSR)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		return api.EnrollResponse{}, store.AgentRecord{}, refusef(err, "bad certificate request: %v", err)
	}
	// Check the name before consuming the token, so a name clash does not
	// burn it. The name of a removed (revoked) agent may be reused.
	if old, err := g.cfg.Store.GetAgentByName(ctx, name); err == nil && old.RevokedAt == nil {
		return api.EnrollResponse{}, store.AgentRecord{}, refusef(store.ErrConflict, "%s", nameTaken(old))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return api.EnrollResponse{}, store.AgentRecord{}, fmt.Errorf("look up agent name: %w", err)
	}
	secret := enrollSecret(req.Token)
	if secret == "" {
		return api.EnrollResponse{}, store.AgentRecord{}, refusef(nil, "no enrollment token given: create one with onepam agents token create")
	}
	hash := sha256.Sum256([]byte(secret))
	now := g.now()
	if err := g.cfg.Store.ConsumeEnrollToken(ctx, hash[:], now); err != nil {
		if errors.Is(err, store.ErrTokenUsed) || errors.Is(err, store.ErrNotFound) {
			return api.EnrollResponse{}, store.AgentRecord{}, refusef(err, msgTokenUsed)
		}
		return api.EnrollResponse{}, store.AgentRecord{}, fmt.Errorf("consume enrollment token: %w", err)
	}
	id := store.NewID()
	certPEM, serial, err := g.cfg.CA.SignAgent(req.CSR, id, now)
	if err != nil {
		return api.EnrollResponse{}, store.AgentRecord{}, refusef(err, "%v", err)
	}
	rec := store.AgentRecord{
		ID:         id,
		Name:       name,
		Hostname:   req.Hostname,
		Version:    req.Version,
		CertSerial: serial,
		EnrolledAt: now,
	}
	if err := g.cfg.Store.CreateAgent(ctx, rec); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return api.EnrollResponse{}, store.AgentRecord{}, refusef(err, "agent name %q was taken meanwhile: enroll with another name and a new token", name)
		}
		return api.EnrollResponse{}, store.AgentRecord{}, fmt.Errorf("create agent: %w", err)
	}
	return api.EnrollResponse{
		AgentID: id,
		Name:    name,
		CertPEM: certPEM,
		CAPEM:   g.cfg.CA.CertPEM(),
	}, rec, nil
}

func nameTaken(old store.AgentRecord) string {
	return fmt.Sprintf("agent name %q is already enrolled: choose another name, or remove the old agent with onepam agents rm %s", old.Name, old.Name)
}

// enrollSecret returns the secret part of an enrollment token. Agents send
// only the secret; a whole "<secret>.<pin hex>" token is accepted too.
func enrollSecret(token string) string {
	token = strings.TrimSpace(token)
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		if pin, err := hex.DecodeString(token[i+1:]); err == nil && len(pin) == sha256.Size {
			return token[:i]
		}
	}
	return token
}
