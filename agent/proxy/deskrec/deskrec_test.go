package deskrec

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/onepam/onepam/recordfmt/deskproto"
)

func TestEndConn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		want     deskproto.EventType // 0: no event
		wantFail bool
	}{
		{"clean end", nil, deskproto.EventMeta, false},
		{"connection error", errors.New("server closed"), deskproto.EventError, false},
		{"recording failure", Wrap(errors.New("disk full")), 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			enc, err := deskproto.NewEncoder(&buf, deskproto.Header{Width: 4, Height: 4}, deskproto.EncoderConfig{})
			if err != nil {
				t.Fatal(err)
			}
			var failed error
			s := Session{Proto: "vnc", SessionID: "s1", Enc: enc, Fail: func(err error) { failed = err }, Log: slog.New(slog.DiscardHandler)}
			s.EndConn(0, 7, tc.err)
			if (failed != nil) != tc.wantFail {
				t.Fatalf("Fail called: %v, want %v", failed, tc.wantFail)
			}
			dec, err := deskproto.NewDecoder(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			var got []deskproto.EventType
			for {
				ev, err := dec.Next()
				if err != nil {
					if !errors.Is(err, io.EOF) && !errors.Is(err, deskproto.ErrTruncated) {
						t.Fatal(err)
					}
					break
				}
				got = append(got, ev.Type)
			}
			has := false
			for _, ty := range got {
				has = has || ty == tc.want
			}
			if tc.want != 0 && !has {
				t.Fatalf("events %v lack %v", got, tc.want)
			}
		})
	}
	if Wrap(nil) != nil {
		t.Fatal("Wrap(nil) is not nil")
	}
}
