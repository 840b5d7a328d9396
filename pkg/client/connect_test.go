package client_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/client/clienttest"
)

// newUpgradeServer serves /v1/sessions/{id}/connect: session "ok" upgrades,
// sends a greeting in the same write as the 101 answer, then echoes until
// the client half-closes and answers "bye"; session "down" answers 502.
func newUpgradeServer(t *testing.T) *clienttest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}/connect", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != api.UpgradeProtocol || r.Header.Get("Authorization") != "Bearer tok" {
			writeJSON(w, 400, api.ErrorBody{Error: api.Errorf(api.CodeInvalid, "bad upgrade")})
			return
		}
		if r.PathValue("id") != "ok" {
			writeJSON(w, 502, api.ErrorBody{Error: api.Errorf(api.CodeTargetFailed, "dial tcp 127.0.0.1:1: connection refused")})
			return
		}
		conn, err := clienttest.Upgrade(w, []byte("hello "+r.URL.Query().Get("channel")+"\n"))
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.Copy(conn, conn) // echo until the client's close_notify
		_, _ = io.WriteString(conn, "bye")
	})
	return clienttest.NewServer(t, mux)
}

func TestConnect(t *testing.T) {
	srv := newUpgradeServer(t)
	c, err := client.New(client.Config{URL: srv.URL, Token: "tok", CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 3 { // repeated connects resume TLS sessions
		conn, err := c.Connect(ctx, "ok", api.ChannelData)
		if err != nil {
			t.Fatalf("connect %d: %v", i, err)
		}
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || line != "hello data\n" {
			t.Fatalf("greeting = %q, %v", line, err)
		}
		if _, err := io.WriteString(conn, "ping"); err != nil {
			t.Fatal(err)
		}
		if err := conn.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "pingbye" {
			t.Fatalf("after half-close got %q, %v", rest, err)
		}
		if cs, ok := conn.(interface{ ConnectionState() tls.ConnectionState }); !ok {
			t.Fatal("connection does not expose its TLS state")
		} else if i > 0 && !cs.ConnectionState().DidResume {
			t.Errorf("connect %d did not resume the TLS session", i)
		}
		conn.Close()
	}
}

func TestConnectErrors(t *testing.T) {
	srv := newUpgradeServer(t)
	ctx := context.Background()
	t.Run("target failed", func(t *testing.T) {
		c, err := client.New(client.Config{URL: srv.URL, Token: "tok", CAPin: srv.CAPin})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Connect(ctx, "down", api.ChannelEvents)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != api.CodeTargetFailed || ae.Message != "dial tcp 127.0.0.1:1: connection refused" {
			t.Fatalf("err = %v, want target_failed", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, err := client.New(client.Config{URL: srv.URL, Token: "tok", CAPin: srv.CAPin})
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Connect(cctx, "ok", api.ChannelData); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}
