package agentgw_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
	"github.com/onepam/onepam/recordfmt/connlog"
	"github.com/onepam/onepam/recordfmt/container"
)

// echoServer runs a TCP echo service on loopback and returns its address.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRealAgent runs the real agent (agent.Run) against the gateway:
// enrollment, inventory, a TCP session carrying bytes to an echo service,
// the connlog recording uploaded complete, then revocation stops the agent.
func TestRealAgent(t *testing.T) {
	e := newEnv(t, nil)
	ctx := ctxTimeout(t)
	echo := echoServer(t)
	token := e.token(time.Hour) + "." + strings.TrimPrefix(e.ca.Pin(), "sha256:")

	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	ran := make(chan struct{})
	defer func() {
		stop()
		<-ran // the agent logs to t: it must be done before the test ends
	}()
	go func() {
		defer close(ran)
		runErr <- agent.Run(runCtx, agent.Config{
			ControlAddr: e.addr,
			Token:       token,
			DataDir:     t.TempDir(),
			Name:        "real",
			Version:     "test-real",
			Resources:   []agent.ResourceConfig{{Name: "echo", Type: api.TypeTCP, Protocol: "tcp", Address: echo}},
			Logger:      e.logger,
		})
	}()

	var agentID string
	waitFor(t, "the real agent online", func() bool {
		rec, err := e.store.GetAgentByName(ctx, "real")
		if err != nil {
			return false
		}
		agentID = rec.ID
		return e.gw.Online(rec.ID)
	})
	r, err := e.store.GetResource(ctx, "echo")
	if err != nil || r.AgentID != agentID || r.Address != echo {
		t.Fatalf("resource %+v, %v", r, err)
	}

	sid := e.session("real")
	sst, err := e.gw.OpenStream(ctx, agentID, api.StreamSession, api.SessionOpen{
		SessionID: sid, Type: api.TypeTCP, Resource: "echo", User: "alice", CreatedAt: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var sres api.SessionOpenResult
	if err := tunnel.ReadFrame(sst, &sres); err != nil || !sres.OK {
		t.Fatalf("session open %+v, %v", sres, err)
	}
	cst, err := e.gw.OpenStream(ctx, agentID, api.StreamConn, api.ConnOpen{SessionID: sid, ConnID: 1, ClientAddr: "127.0.0.1:5555"})
	if err != nil {
		t.Fatal(err)
	}
	var cres api.ConnOpenResult
	if err := tunnel.ReadFrame(cst, &cres); err != nil || !cres.OK {
		t.Fatalf("conn open %+v, %v", cres, err)
	}
	msg := []byte("hello through the gateway\n")
	if _, err := cst.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(cst, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo %q, %v", got, err)
	}
	cst.Close()
	sst.Close() // control ends the session: the agent finalises the recording

	waitFor(t, "the recording uploaded complete", func() bool {
		s, err := e.store.GetSession(ctx, sid)
		return err == nil && s.Recording.State == api.RecordingComplete
	})
	// The agent announced its signing key; the stored container is signed
	// with it.
	keys, err := e.store.AgentSigningKeys(ctx, agentID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("agent signing keys %x, %v", keys, err)
	}
	stored := e.recordingFile(sid)
	if rep, err := container.Verify(bytes.NewReader(stored), int64(len(stored)), keys[0]); err != nil || rep.Status != container.StatusOK {
		t.Fatalf("verify the stored recording: %+v %v", rep, err)
	}
	events, err := connlog.ReadAll(recordings.Inner(bytes.NewReader(stored)))
	if err != nil {
		t.Fatalf("stored connlog: %v", err)
	}
	var opened, closed bool
	for _, ev := range events {
		opened = opened || ev.Event == connlog.EventOpen
		closed = closed || (ev.Event == connlog.EventClose && ev.BytesUp == int64(len(msg)))
	}
	if !opened || !closed {
		t.Fatalf("connlog events %+v", events)
	}

	// agents rm: revoke, then disconnect; the agent stops for good.
	if err := e.store.RevokeAgent(ctx, agentID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.gw.Disconnect(agentID, "agent revoked", true)
	select {
	case err := <-runErr:
		if !errors.Is(err, agent.ErrRevoked) {
			t.Fatalf("agent.Run = %v, want ErrRevoked", err)
		}
	case <-ctx.Done():
		t.Fatal("the revoked agent kept running")
	}
	if e.gw.Online(agentID) {
		t.Fatal("revoked agent online")
	}
}
