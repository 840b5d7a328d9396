package sqlite_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/storetest"
	"github.com/onepam/onepam/pkg/api"
)

func TestRecordingsMethods(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	if err := s.CreateAgent(ctx, store.AgentRecord{ID: "a1", Name: "web", EnrolledAt: now}); err != nil {
		t.Fatal(err)
	}
	t.Run("signing keys", func(t *testing.T) {
		k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
		for i, k := range [][]byte{k1, k1, k2} {
			if err := s.AddAgentSigningKey(ctx, "a1", k, now.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.AgentSigningKeys(ctx, "a1")
		if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], k1) || !bytes.Equal(keys[1], k2) {
			t.Fatalf("keys %x, %v", keys, err)
		}
		if err := s.AddAgentSigningKey(ctx, "a1", []byte("short"), now); err == nil {
			t.Fatal("a 5-byte key was accepted")
		}
	})
	t.Run("settings", func(t *testing.T) {
		if _, ok, err := s.GetSetting(ctx, "retention"); ok || err != nil {
			t.Fatalf("unset setting: %v %v", ok, err)
		}
		for _, v := range []string{`{"days":7}`, `{"days":30}`} {
			if err := s.PutSetting(ctx, "retention", v, "admin", now); err != nil {
				t.Fatal(err)
			}
			if got, ok, err := s.GetSetting(ctx, "retention"); got != v || !ok || err != nil {
				t.Fatalf("got %q %v %v, want %q", got, ok, err, v)
			}
		}
	})
	t.Run("locations", func(t *testing.T) {
		id := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
		if _, ok, _ := s.RecordingLocation(ctx, id); ok {
			t.Fatal("location of an unknown recording")
		}
		s.SetRecordingLocation(ctx, id, "s3:bucket", now)
		s.SetRecordingLocation(ctx, id, "dir", now) // the first one stays
		if got, ok, err := s.RecordingLocation(ctx, id); got != "s3:bucket" || !ok || err != nil {
			t.Fatalf("location %q %v %v", got, ok, err)
		}
	})
	t.Run("expirable", func(t *testing.T) {
		if err := storetest.Seed(ctx, s, 30, now); err != nil {
			t.Fatal(err)
		}
		got, err := s.ExpirableRecordings(ctx, now.Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		var last time.Time
		for _, sess := range got {
			if sess.EndedAt == nil || !sess.EndedAt.Before(now.Add(time.Hour)) || sess.EndedAt.Before(last) {
				t.Fatalf("session %s ended %v: not expirable or out of order", sess.ID, sess.EndedAt)
			}
			if st := sess.Recording.State; st != api.RecordingComplete && st != api.RecordingPartial {
				t.Fatalf("session %s recording %s", sess.ID, st)
			}
			last = *sess.EndedAt
		}
		if len(got) == 0 {
			t.Fatal("no expirable recording among the seeded sessions")
		}
	})
}
