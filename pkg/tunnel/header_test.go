package tunnel

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/onepam/onepam/pkg/api"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind api.StreamKind
		v    any
	}{
		{"session", api.StreamSession, api.SessionOpen{SessionID: "s1", Type: api.TypeTCP, Resource: "pg", User: "alice"}},
		{"conn", api.StreamConn, api.ConnOpen{SessionID: "s1", ConnID: 7, ClientAddr: "127.0.0.1:5"}},
		{"recording", api.StreamRecording, api.RecordingOpen{SessionID: "s1", Format: api.FormatConnlog}},
		{"control", api.StreamControl, api.AgentHello{Version: "v1", Resources: []api.Resource{{Name: "x", Type: api.TypeTCP}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteHeader(&buf, tc.kind, tc.v); err != nil {
				t.Fatal(err)
			}
			buf.WriteString("trailing payload")
			kind, body, err := ReadHeader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if kind != tc.kind {
				t.Fatalf("kind %s, want %s", kind, tc.kind)
			}
			if !strings.HasPrefix(string(body), "{") {
				t.Fatalf("body %q", body)
			}
			if rest, _ := io.ReadAll(&buf); string(rest) != "trailing payload" {
				t.Fatalf("header read consumed payload: rest %q", rest)
			}
		})
	}
}

func TestExpectHeader(t *testing.T) {
	var buf bytes.Buffer
	_ = WriteHeader(&buf, api.StreamConn, api.ConnOpen{SessionID: "abc", ConnID: 3})
	var got api.ConnOpen
	if err := ExpectHeader(bytes.NewReader(buf.Bytes()), api.StreamConn, &got); err != nil || got.SessionID != "abc" || got.ConnID != 3 {
		t.Fatalf("got %+v, %v", got, err)
	}
	if err := ExpectHeader(bytes.NewReader(buf.Bytes()), api.StreamSession, &got); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong kind accepted: %v", err)
	}
}

func rawHeader(magic string, kind byte, n uint32, body string) []byte {
	b := append([]byte(magic), kind, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[5:9], n)
	return append(b, body...)
}

func TestReadHeaderMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"bad magic", rawHeader("HTTP", 2, 2, "{}"), "magic"},
		{"unknown kind", rawHeader("OPS1", 99, 2, "{}"), "unknown stream kind"},
		{"zero kind", rawHeader("OPS1", 0, 2, "{}"), "unknown stream kind"},
		{"oversized", rawHeader("OPS1", 2, MaxHeaderSize+1, ""), "exceeds"},
		{"truncated body", rawHeader("OPS1", 2, 10, "{}"), "truncated"},
		{"truncated prefix", []byte("OPS"), "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadHeader(bytes.NewReader(tc.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrMalformed mentioning %q", err, tc.want)
			}
		})
	}
	if _, _, err := ReadHeader(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("empty stream: %v, want io.EOF", err)
	}
	var v api.ConnOpen
	if err := DecodeHeader([]byte(`{"conn_id":"x"}`), &v); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad JSON body: %v", err)
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	msgs := []api.AgentMessage{{Type: api.MsgWelcome, Welcome: &api.AgentWelcome{AgentID: "a"}}, {Type: api.MsgError, Error: &api.AgentError{Message: "agent revoked", Fatal: true}}}
	for _, m := range msgs {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		var got api.AgentMessage
		if err := ReadFrame(&buf, &got); err != nil || got.Type != want.Type {
			t.Fatalf("got %+v, %v", got, err)
		}
	}
	var m api.AgentMessage
	if err := ReadFrame(&buf, &m); err != io.EOF {
		t.Fatalf("clean end: %v, want io.EOF", err)
	}
	big := []byte{0xff, 0xff, 0xff, 0xff}
	if err := ReadFrame(bytes.NewReader(big), &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized frame: %v", err)
	}
	if err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 3, 'a', 'b', 'c'}), &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad JSON frame: %v", err)
	}
}

func TestChunks(t *testing.T) {
	var buf bytes.Buffer
	in := []Chunk{{Offset: 0, Data: []byte("hello ")}, {Offset: 6, Data: []byte("world"), Final: true}, {Offset: 11}}
	for _, c := range in {
		if err := WriteChunk(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range in {
		got, err := ReadChunk(&buf)
		if err != nil || got.Offset != want.Offset || got.Final != want.Final || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("got %+v %v, want %+v", got, err, want)
		}
	}
	if _, err := ReadChunk(&buf); err != io.EOF {
		t.Fatalf("clean end: %v", err)
	}
	bad := make([]byte, 13)
	bad[0] = 0x80
	if _, err := ReadChunk(bytes.NewReader(bad)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown flags: %v", err)
	}
	bad[0] = 0
	binary.BigEndian.PutUint32(bad[9:], MaxChunkSize+1)
	if _, err := ReadChunk(bytes.NewReader(bad)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized chunk: %v", err)
	}
	if err := WriteChunk(io.Discard, Chunk{Offset: -1}); err == nil {
		t.Fatal("negative offset written")
	}
}
