package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/client"
	"github.com/onepam/onepam/pkg/client/clienttest"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newAPI(t *testing.T) *clienttest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			writeJSON(w, 401, api.ErrorBody{Error: api.Errorf(api.CodeUnauthenticated, "unknown token")})
			return
		}
		writeJSON(w, 200, api.Whoami{User: "alice", Role: api.RoleAdmin, TokenID: "t1"})
	})
	mux.HandleFunc("DELETE /v1/users/{name}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, api.ErrorBody{Error: api.Errorf(api.CodeForbidden, "only admins may remove users")})
	})
	mux.HandleFunc("GET /v1/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such thing", http.StatusNotFound) // not an api.ErrorBody
	})
	mux.HandleFunc("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.SessionList{NextCursor: r.URL.RawQuery})
	})
	return clienttest.NewServer(t, mux)
}

func TestTrust(t *testing.T) {
	srv := newAPI(t)
	other := newAPI(t) // a different CA
	cases := []struct {
		name    string
		cfg     client.Config
		wantErr bool
	}{
		{"saved CA", client.Config{URL: srv.URL, Token: "good", CAPEM: srv.CAPEM}, false},
		{"pin", client.Config{URL: srv.URL, Token: "good", CAPin: srv.CAPin}, false},
		{"saved CA wins over a pin", client.Config{URL: srv.URL, Token: "good", CAPEM: srv.CAPEM, CAPin: other.CAPin}, false},
		{"wrong CA", client.Config{URL: srv.URL, Token: "good", CAPEM: other.CAPEM}, true},
		{"wrong pin", client.Config{URL: srv.URL, Token: "good", CAPin: other.CAPin}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			who, err := c.Whoami(context.Background())
			if tc.wantErr {
				var ne *client.NetworkError
				if !errors.As(err, &ne) {
					t.Fatalf("err = %v, want *NetworkError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if who.User != "alice" || who.Role != api.RoleAdmin {
				t.Fatalf("whoami = %+v", who)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  client.Config
		want string
	}{
		{"no CA", client.Config{URL: "https://127.0.0.1:1"}, "control's CA is unknown"},
		{"http", client.Config{URL: "http://127.0.0.1:1", CAPin: strings.Repeat("ab", 32)}, "want https"},
		{"bad pin", client.Config{URL: "https://127.0.0.1:1", CAPin: "sha256:zz"}, "bad CA pin"},
		{"bad PEM", client.Config{URL: "https://127.0.0.1:1", CAPEM: []byte("junk")}, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestErrorDecoding(t *testing.T) {
	srv := newAPI(t)
	c, err := client.New(client.Config{URL: srv.URL, Token: "bad", CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name    string
		call    func() error
		code    api.ErrorCode
		message string
	}{
		{"unauthenticated", func() error { _, err := c.Whoami(ctx); return err }, api.CodeUnauthenticated, "unknown token"},
		{"forbidden", func() error { return c.DeleteUser(ctx, "bob") }, api.CodeForbidden, "only admins may remove users"},
		{"plain 404", func() error { _, err := c.GetSession(ctx, "x"); return err }, api.CodeNotFound, "control answered 404 Not Found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae *api.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %#v, want *api.Error", err)
			}
			if api.CodeOf(err) != tc.code || ae.Message != tc.message {
				t.Fatalf("err = %+v, want %s %q", ae, tc.code, tc.message)
			}
		})
	}
}

func TestNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := client.New(client.Config{URL: "https://" + addr, CAPin: "sha256:" + strings.Repeat("ab", 32), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Whoami(context.Background())
	var ne *client.NetworkError
	if !errors.As(err, &ne) || !strings.HasPrefix(err.Error(), "cannot reach control at https://"+addr) {
		t.Fatalf("err = %v, want *NetworkError", err)
	}
	if _, err := c.Connect(context.Background(), "s1", api.ChannelData); !errors.As(err, &ne) {
		t.Fatalf("connect err = %v, want *NetworkError", err)
	}
}

func TestListSessionsQuery(t *testing.T) {
	srv := newAPI(t)
	c, err := client.New(client.Config{URL: srv.URL, Token: "good", CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	got, err := c.ListSessions(context.Background(), client.SessionQuery{
		Status: []api.SessionStatus{api.StatusActive, api.StatusFailed},
		Type:   []api.SessionType{api.TypeTCP},
		User:   "bob",
		Since:  since,
		Limit:  50,
		Cursor: "abc",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "cursor=abc&limit=50&since=2025-01-02T03%3A04%3A05Z&status=active%2Cfailed&type=tcp&user=bob"
	if got.NextCursor != want {
		t.Fatalf("query = %s\nwant    %s", got.NextCursor, want)
	}
}

func TestFetchCA(t *testing.T) {
	srv := newAPI(t)
	other := newAPI(t)
	ctx := context.Background()
	t.Run("trust on first use", func(t *testing.T) {
		pemBytes, pin, err := client.FetchCA(ctx, srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		if pin != srv.CAPin || string(pemBytes) != string(srv.CAPEM) {
			t.Fatalf("pin = %s, want %s", pin, srv.CAPin)
		}
	})
	t.Run("pin matches", func(t *testing.T) {
		_, pin, err := client.FetchCA(ctx, srv.URL, srv.CAPin)
		if err != nil || pin != srv.CAPin {
			t.Fatalf("pin = %s, err = %v", pin, err)
		}
	})
	t.Run("pin differs", func(t *testing.T) {
		_, _, err := client.FetchCA(ctx, srv.URL, other.CAPin)
		if err == nil || !strings.Contains(err.Error(), "pinned CA") {
			t.Fatalf("err = %v, want a pin mismatch", err)
		}
	})
}

func TestRecording(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}/recording", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "s1" {
			writeJSON(w, 404, api.ErrorBody{Error: api.Errorf(api.CodeNotFound, "no session")})
			return
		}
		_, _ = io.WriteString(w, "{\"t\":0}\n")
	})
	srv := clienttest.NewServer(t, mux)
	c, err := client.New(client.Config{URL: srv.URL, CAPEM: srv.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Recording(context.Background(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "{\"t\":0}\n" {
		t.Fatalf("recording = %q", b)
	}
	if _, err := c.Recording(context.Background(), "s2"); api.CodeOf(err) != api.CodeNotFound {
		t.Fatalf("err = %v, want not_found", err)
	}
}
