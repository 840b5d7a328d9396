package agentgwtest

import (
	"context"
	"fmt"
	"net"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// Upload is one open recording stream.
type Upload struct {
	Stream net.Conn
	// Offset is what control acknowledged when the stream opened.
	Offset int64
}

// OpenRecording opens a recording stream and reads control's first ack.
// A refusal wraps ErrRefused.
func (a *Agent) OpenRecording(ctx context.Context, sessionID string, format api.RecordingFormat) (*Upload, error) {
	st, err := a.Session.OpenStream()
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { st.Close() })
	defer stop()
	if err := tunnel.WriteHeader(st, api.StreamRecording, api.RecordingOpen{SessionID: sessionID, Format: format}); err != nil {
		st.Close()
		return nil, err
	}
	var ack api.RecordingAck
	if err := tunnel.ReadFrame(st, &ack); err != nil {
		st.Close()
		return nil, fmt.Errorf("first recording ack: %w", err)
	}
	if ack.Error != "" {
		st.Close()
		return nil, fmt.Errorf("%w: %s", ErrRefused, ack.Error)
	}
	return &Upload{Stream: st, Offset: ack.Offset}, nil
}

// Send writes one chunk without waiting for its ack.
func (u *Upload) Send(c tunnel.Chunk) error { return tunnel.WriteChunk(u.Stream, c) }

// Ack reads one ack; an ack with Error wraps ErrRefused.
func (u *Upload) Ack() (api.RecordingAck, error) {
	var ack api.RecordingAck
	if err := tunnel.ReadFrame(u.Stream, &ack); err != nil {
		return ack, err
	}
	if ack.Error != "" {
		return ack, fmt.Errorf("%w: %s", ErrRefused, ack.Error)
	}
	return ack, nil
}

// Close closes the stream.
func (u *Upload) Close() error { return u.Stream.Close() }

// UploadAll uploads data (the whole recording so far) on a new stream,
// resuming from the offset control acknowledges, in chunks of chunkSize
// bytes, the last marked final when final is set; it waits for every ack
// and returns the last acknowledged offset.
func (a *Agent) UploadAll(ctx context.Context, sessionID string, format api.RecordingFormat, data []byte, chunkSize int, final bool) (int64, error) {
	u, err := a.OpenRecording(ctx, sessionID, format)
	if err != nil {
		return 0, err
	}
	defer u.Close()
	stop := context.AfterFunc(ctx, func() { u.Close() })
	defer stop()
	off := u.Offset
	if off > int64(len(data)) {
		return off, fmt.Errorf("control holds %d bytes, more than the %d uploaded", off, len(data))
	}
	for {
		end := min(off+int64(chunkSize), int64(len(data)))
		last := end == int64(len(data))
		if off == end && !(last && final) {
			return off, nil
		}
		if err := u.Send(tunnel.Chunk{Offset: off, Data: data[off:end], Final: last && final}); err != nil {
			return off, err
		}
		ack, err := u.Ack()
		if err != nil {
			return off, err
		}
		if ack.Offset != end {
			return ack.Offset, fmt.Errorf("ack offset %d, want %d", ack.Offset, end)
		}
		off = end
		if last {
			return off, nil
		}
	}
}
