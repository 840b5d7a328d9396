package recordings

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store/sqlite"
	"github.com/onepam/onepam/pkg/api"
)

// failingDeleter fails to delete the recordings of the sessions in fail.
type failingDeleter struct {
	fail    map[string]bool
	deleted []string
}

func (d *failingDeleter) Delete(_ context.Context, id string) error {
	if d.fail[id] {
		return errors.New("bucket unreachable")
	}
	d.deleted = append(d.deleted, id)
	return nil
}

// TestRetentionSkipsWhatItCannotDelete: a recording whose store fails is
// named in the error and left as it is; the others, before and after it
// and beyond one batch, still expire; the next run retries it.
func TestRetentionSkipsWhatItCannotDelete(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "onepam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ended := time.Now().Add(-30 * 24 * time.Hour)
	var ids []string
	for i := range 5 {
		id := fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i+1)
		seedEndedSession(t, db, id, ended.Add(time.Duration(i)*time.Minute))
		ids = append(ids, id)
	}
	d := &failingDeleter{fail: map[string]bool{ids[0]: true, ids[2]: true}}
	job, err := NewRetentionJob(RetentionConfig{Store: db, Blobs: d, Batch: 2,
		Settings: func(context.Context) (api.RetentionSettings, error) { return DefaultRetention, nil },
		NewID:    func() string { return fmt.Sprint(time.Now().UnixNano()) }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := job.RunOnce(ctx)
	if n != 3 || err == nil || !strings.Contains(err.Error(), ids[0]) || !strings.Contains(err.Error(), ids[2]) {
		t.Fatalf("first run: %d expired, %v", n, err)
	}
	for i, id := range ids {
		s, err := db.GetSession(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]api.RecordingState{true: api.RecordingComplete, false: api.RecordingExpired}[d.fail[id]]; s.Recording.State != want {
			t.Fatalf("session %d: recording %s, want %s", i, s.Recording.State, want)
		}
	}
	d.fail = nil
	if n, err := job.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("second run: %d expired, %v", n, err)
	}
}
