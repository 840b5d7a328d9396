package proxy

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// loopPair returns both ends of a loopback TCP connection.
func loopPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// refusal begins connection id on a fresh stream and returns the error
// and the ConnOpenResult the peer read ("" when none was written).
func refusal(t *testing.T, cs *Conns, id int64) (error, string) {
	t.Helper()
	conn, peer := loopPair(t)
	_, err := cs.Begin(conn, api.ConnOpen{ConnID: id})
	if err == nil {
		return nil, ""
	}
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	var res api.ConnOpenResult
	if rerr := tunnel.ReadFrame(peer, &res); rerr != nil {
		t.Fatalf("read ConnOpenResult: %v", rerr)
	}
	return err, res.Error
}

func TestConnsBegin(t *testing.T) {
	tests := []struct {
		name    string
		single  string
		open    []int64 // connections begun (and kept) first
		id      int64
		wantErr string
	}{
		{name: "first", id: 1},
		{name: "second", open: []int64{1}, id: 2},
		{name: "duplicate", open: []int64{1}, id: 1, wantErr: "connection number 1 is invalid or already in use"},
		{name: "zero", id: 0, wantErr: "connection number 0 is invalid or already in use"},
		{name: "negative", id: -3, wantErr: "connection number -3 is invalid or already in use"},
		{name: "single first", single: "one at a time", id: 0},
		{name: "single second", single: "one at a time", open: []int64{1}, id: 2, wantErr: "one at a time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := &Conns{Single: tt.single}
			for _, id := range tt.open {
				c, _ := loopPair(t)
				release, err := cs.Begin(c, api.ConnOpen{ConnID: id})
				if err != nil {
					t.Fatalf("begin %d: %v", id, err)
				}
				defer release()
			}
			err, answer := refusal(t, cs, tt.id)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr || answer != tt.wantErr {
				t.Fatalf("got error %v, answer %q; want %q", err, answer, tt.wantErr)
			}
		})
	}
}

func TestConnsReleaseFreesID(t *testing.T) {
	cs := &Conns{}
	c, _ := loopPair(t)
	release, err := cs.Begin(c, api.ConnOpen{ConnID: 7})
	if err != nil {
		t.Fatal(err)
	}
	release()
	if err, _ := refusal(t, cs, 7); err != nil {
		t.Fatalf("connection number not freed: %v", err)
	}
}

func TestConnsCloseAll(t *testing.T) {
	cs := &Conns{}
	client, clientPeer := loopPair(t)
	target, targetPeer := loopPair(t)
	release, err := cs.Begin(client, api.ConnOpen{ConnID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Attach(1, target); err != nil {
		t.Fatal(err)
	}
	custom, _ := loopPair(t)
	aborted := make(chan struct{})
	release2, err := cs.BeginFunc(custom, api.ConnOpen{ConnID: 2}, func() { close(aborted) })
	if err != nil {
		t.Fatal(err)
	}
	if cs.Closing() {
		t.Fatal("closing before CloseAll")
	}

	// The ServeConn calls end once their connections are cut.
	served := make(chan struct{})
	go func() {
		defer close(served)
		buf := make([]byte, 1)
		clientPeer.SetReadDeadline(time.Now().Add(10 * time.Second))
		targetPeer.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, e1 := clientPeer.Read(buf)
		_, e2 := targetPeer.Read(buf)
		var ne net.Error
		if (errors.As(e1, &ne) && ne.Timeout()) || (errors.As(e2, &ne) && ne.Timeout()) {
			t.Error("client or target connection not aborted")
		}
		release()
		<-aborted
		release2()
	}()
	closed := make(chan bool)
	go func() { closed <- cs.CloseAll() }()
	select {
	case first := <-closed:
		if !first {
			t.Fatal("first CloseAll did not report first")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("CloseAll did not return")
	}
	<-served
	if !cs.Closing() {
		t.Fatal("not closing after CloseAll")
	}
	if cs.CloseAll() {
		t.Fatal("second CloseAll reported first")
	}
	if err, answer := refusal(t, cs, 3); !errors.Is(err, ErrEnding) || answer != ErrEnding.Error() {
		t.Fatalf("after CloseAll: error %v, answer %q", err, answer)
	}
	late, _ := loopPair(t)
	if err := cs.Attach(1, late); !errors.Is(err, ErrEnding) {
		t.Fatalf("Attach after CloseAll: %v", err)
	}
}
