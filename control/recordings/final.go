package recordings

import (
	"context"
	"errors"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/container"
)

// FinalState is the state of a recording whose final chunk is stored:
// api.RecordingComplete when the container ends with the agent's trailer
// (or when it is the raw recording of an older agent, which has none), and
// api.RecordingPartial when the container was cut short: the agent stopped
// (was killed, lost power, failed to write) before it could finish it, and
// what its spool had made durable was uploaded. `onepam sessions verify`
// reports the same recording as "cut", saying where.
func FinalState(ctx context.Context, st Store, sessionID string, format api.RecordingFormat) (api.RecordingState, error) {
	rc, err := st.Open(ctx, sessionID, format)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	blob, err := AsBlob(rc)
	if err != nil {
		return "", err
	}
	head := make([]byte, len(container.Magic))
	n, _ := blob.ReadAt(head, 0)
	if n == 0 || !IsContainer(head[:n]) {
		return api.RecordingComplete, nil
	}
	ended, err := container.Ended(blob, blob.Size())
	switch {
	case errors.Is(err, container.ErrMalformed):
		return api.RecordingPartial, nil // cut inside its file header (or damaged: verify says which)
	case err != nil:
		return "", fmt.Errorf("recording of session %s: %w", sessionID, err)
	case !ended:
		return api.RecordingPartial, nil
	}
	return api.RecordingComplete, nil
}
