package cli

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// openDesktopPlayer reads a desktop session's recording through the API
// into a temporary file and returns a deskproto Player over it, the
// session, and the function that removes the file. Sessions of other
// types, and expired recordings, are clear errors.
func openDesktopPlayer(ctx context.Context, client ClientFunc, id, what string) (*deskproto.Player, api.Session, func(), error) {
	c, err := client()
	if err != nil {
		return nil, api.Session{}, nil, err
	}
	s, err := c.GetSession(ctx, id)
	if err != nil {
		return nil, s, nil, err
	}
	format := s.Recording.Format
	if format == "" {
		format = api.RecordingFormatFor(s.Type)
	}
	if format != api.FormatDeskproto {
		return nil, s, nil, fmt.Errorf("session %s is a %s session with a %s recording: %s exists only for desktop sessions (vnc, rdp); use onepam sessions replay %s", s.ID, s.Type, format, what, s.ID)
	}
	if s.Recording.State == api.RecordingExpired {
		notice := s.Recording.Notice
		if notice == "" {
			notice = "the recording was deleted by retention"
		}
		return nil, s, nil, fmt.Errorf("session %s: %s", s.ID, notice)
	}
	rc, err := c.Recording(ctx, s.ID)
	if err != nil {
		return nil, s, nil, err
	}
	defer rc.Close()
	spool, size, err := spoolRecording(rc)
	if err != nil {
		return nil, s, nil, fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	p, err := deskproto.NewPlayer(spool, size)
	if err != nil {
		removeSpool(spool)
		return nil, s, nil, fmt.Errorf("recording of session %s: %w", s.ID, err)
	}
	return p, s, func() { removeSpool(spool) }, nil
}
