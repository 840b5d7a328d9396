package agentgw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/onepam/onepam/control/recordings"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/tunnel"
)

// uploadKey names one recording.
type uploadKey struct {
	sessionID string
	format    api.RecordingFormat
}

// upload is an open recording stream.
type upload struct {
	stream  net.Conn
	agentID string
	done    chan struct{} // closed when its receiver returned

	// guarded by Gateway.mu
	size     int64
	received int64
	lastAck  time.Time
}

// receiveRecording serves a StreamRecording stream: it acks the size
// already stored, then stores each chunk at its offset and acks the new
// size. A refusal is one RecordingAck with Error, then the stream closes.
func (c *agentConn) receiveRecording(ctx context.Context, st net.Conn, open api.RecordingOpen) {
	log := c.log.With("session_id", open.SessionID, "format", string(open.Format))
	if err := c.checkRecording(ctx, open); err != nil {
		log.Warn("recording upload refused", "err", err)
		st.SetWriteDeadline(time.Now().Add(c.g.cfg.HandshakeTimeout))
		tunnel.WriteFrame(st, api.RecordingAck{Error: err.Error()})
		return
	}
	key := uploadKey{open.SessionID, open.Format}
	up, err := c.g.startUpload(ctx, key, st, c.id)
	if err != nil {
		return
	}
	defer c.g.endUpload(key, up)

	recs := c.g.cfg.Recordings
	size, err := recs.Size(ctx, open.SessionID, open.Format)
	if err != nil {
		log.Error("recording size", "err", err)
		tunnel.WriteFrame(st, api.RecordingAck{Error: "control could not read the stored recording; retry later"})
		return
	}
	c.g.noteAck(up, size, 0)
	if err := tunnel.WriteFrame(st, api.RecordingAck{Offset: size}); err != nil {
		return
	}
	// The session's recording state (its size) goes to the database when
	// the state changes and at most every RecordingStateInterval between:
	// a bulk session sends hundreds of chunks a second.
	var saved api.Recording
	var savedAt time.Time
	unsaved := false
	save := func(ctx context.Context, rec api.Recording) error {
		if err := c.g.cfg.Store.SetRecording(ctx, open.SessionID, rec); err != nil {
			return err
		}
		saved, savedAt, unsaved = rec, c.g.now(), false
		return nil
	}
	defer func() {
		if unsaved { // the stream broke between two saves
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.g.cfg.HandshakeTimeout)
			defer cancel()
			if err := save(ctx, saved); err != nil {
				log.Error("store recording state", "err", err)
			}
		}
	}()
	for {
		ch, err := tunnel.ReadChunk(st)
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				log.Warn("recording stream broken; closing it", "err", err)
			}
			return
		}
		size, err = recs.WriteAt(ctx, open.SessionID, open.Format, ch.Offset, ch.Data, ch.Final)
		if err != nil {
			msg := "control could not store the chunk; retry later"
			if errors.Is(err, recordings.ErrGap) {
				msg = fmt.Sprintf("chunk at offset %d leaves a gap: control holds %d bytes; resume from there", ch.Offset, size)
			}
			log.Warn("recording chunk refused", "offset", ch.Offset, "err", err)
			tunnel.WriteFrame(st, api.RecordingAck{Offset: size, Error: msg})
			return
		}
		state := api.RecordingRecording
		if ch.Final {
			if state, err = recordings.FinalState(ctx, recs, open.SessionID, open.Format); err != nil {
				log.Error("check the end of the recording", "err", err)
				tunnel.WriteFrame(st, api.RecordingAck{Offset: size, Error: "control could not read the stored recording; retry later"})
				return
			}
		}
		rec := api.Recording{Format: open.Format, State: state, Size: size, Available: true}
		if ch.Final || state != saved.State || c.g.now().Sub(savedAt) >= c.g.cfg.RecordingStateInterval {
			if err := save(ctx, rec); err != nil {
				log.Error("store recording state", "err", err)
				tunnel.WriteFrame(st, api.RecordingAck{Offset: size, Error: "control could not record the upload; retry later"})
				return
			}
		} else {
			saved, unsaved = rec, true
		}
		c.g.noteAck(up, size, int64(len(ch.Data)))
		if c.g.cfg.Live != nil {
			c.g.cfg.Live.Publish(open.SessionID, recordings.LiveChunk{Offset: ch.Offset, Data: ch.Data, Final: ch.Final})
		}
		c.g.cfg.OnRecording(open.SessionID, rec)
		if err := tunnel.WriteFrame(st, api.RecordingAck{Offset: size, Final: ch.Final}); err != nil {
			return
		}
		if ch.Final {
			if state == api.RecordingPartial {
				log.Warn("recording complete up to where the agent stopped: it ends without the agent's signature (partial)", "size", size)
			} else {
				log.Info("recording complete", "size", size)
			}
		}
	}
}

// checkRecording checks the session exists and is served by this agent.
func (c *agentConn) checkRecording(ctx context.Context, open api.RecordingOpen) error {
	if err := recordings.CheckSessionID(open.SessionID); err != nil {
		return err
	}
	if _, err := recordings.Ext(open.Format); err != nil {
		return err
	}
	s, err := c.g.cfg.Store.GetSession(ctx, open.SessionID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("unknown session %s", open.SessionID)
	}
	if err != nil {
		return fmt.Errorf("look up session %s: control store error", open.SessionID)
	}
	if s.Recording.Format != "" && s.Recording.Format != open.Format {
		return fmt.Errorf("session %s records %s, not %s", open.SessionID, s.Recording.Format, open.Format)
	}
	if s.Agent == c.name || s.Agent == c.id {
		return nil
	}
	if s.Agent == "" {
		// Not recorded on the session yet: the resource's agent decides.
		if r, err := c.g.cfg.Store.GetResource(ctx, s.Resource); err == nil && r.AgentID == c.id {
			return nil
		}
	}
	return fmt.Errorf("session %s is not served by this agent", open.SessionID)
}

// startUpload registers an upload, replacing (closing and waiting for) an
// older stream of the same recording, so one recording has one writer.
func (g *Gateway) startUpload(ctx context.Context, key uploadKey, st net.Conn, agentID string) (*upload, error) {
	up := &upload{stream: st, agentID: agentID, done: make(chan struct{})}
	for {
		g.mu.Lock()
		old := g.uploads[key]
		if old == nil {
			g.uploads[key] = up
			g.mu.Unlock()
			return up, nil
		}
		g.mu.Unlock()
		// A yamux Close only half-closes; the deadline unblocks the old
		// receiver's read.
		old.stream.SetDeadline(time.Now())
		old.stream.Close()
		select {
		case <-old.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (g *Gateway) endUpload(key uploadKey, up *upload) {
	g.mu.Lock()
	if g.uploads[key] == up {
		delete(g.uploads, key)
	}
	g.mu.Unlock()
	close(up.done)
}

func (g *Gateway) noteAck(up *upload, size, n int64) {
	g.mu.Lock()
	up.size = size
	up.received += n
	up.lastAck = g.now()
	g.mu.Unlock()
	if n > 0 {
		g.recBytes.Add(n)
		g.recChunks.Add(1)
	}
}
