package vnc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/onepam/onepam/agent/proxy/deskrec"
	"image"
	"io"
	"net"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// rec marks a failed recording write (deskrec.Error).
func rec(err error) error { return deskrec.Wrap(err) }

// relayConn carries one viewer connection: a viewer-to-server loop and a
// server-to-viewer loop, each decoding what it forwards.
type relayConn struct {
	s      *session
	id     int64
	peer   string
	viewer net.Conn
	server net.Conn
	ss     *rfb.Stream // from the server (handshake already read)
	vs     *rfb.Stream // from the viewer
	dec    *rfb.Decoder
	nextPF atomic.Pointer[rfb.PixelFormat] // set by the viewer, applied at the next update
}

// run performs the viewer's handshake and ClientInit/ServerInit, then
// relays both ways. A clean end of either side returns nil.
func (r *relayConn) run() error {
	hs := r.s.p.cfg.HandshakeTimeout
	r.viewer.SetDeadline(time.Now().Add(hs))
	r.server.SetDeadline(time.Now().Add(hs))
	r.vs = rfb.NewStream(r.viewer, true)
	minor, err := rfb.ServerHandshake(r.vs, r.viewer)
	if err != nil {
		return fmt.Errorf("viewer handshake: %w", err)
	}
	r.vs.Take()
	shared, err := r.vs.U8()
	if err != nil {
		return fmt.Errorf("viewer ClientInit: %w", err)
	}
	if _, err := r.server.Write(r.vs.Take()); err != nil {
		return fmt.Errorf("send ClientInit: %w", err)
	}
	si, err := rfb.ReadServerInit(r.ss)
	if err != nil {
		return fmt.Errorf("server ServerInit: %w", err)
	}
	if si.Width < 1 || si.Height < 1 || si.Width*si.Height > rfb.MaxPixels {
		return fmt.Errorf("%w: the server's desktop is %dx%d", rfb.ErrProtocol, si.Width, si.Height)
	}
	if _, err := r.viewer.Write(r.ss.Take()); err != nil {
		return fmt.Errorf("send ServerInit: %w", err)
	}
	r.viewer.SetDeadline(time.Time{})
	r.server.SetDeadline(time.Time{})
	t := r.s.since()
	enc := r.s.enc
	if err := errors.Join(
		enc.Meta(t, "connection", fmt.Sprintf("%d from %s: RFB 3.%d viewer, shared %v", r.id, r.peer, minor, shared != 0)),
		enc.Meta(t, "desktop_name", si.Name),
		enc.Resize(t, si.Width, si.Height),
	); err != nil {
		return rec(err)
	}
	r.dec = rfb.NewDecoder(si.Width, si.Height, si.PixelFormat)

	up := make(chan error, 1)
	go func() {
		err := r.viewerLoop()
		relay.Abort(r.server)
		relay.Abort(r.viewer)
		up <- err
	}()
	err = r.serverLoop()
	relay.Abort(r.server)
	relay.Abort(r.viewer)
	uerr := <-up
	// The loop that failed first holds the cause; the other one sees its
	// connection aborted.
	for _, e := range []error{err, uerr} {
		if e != nil && !errors.Is(e, errAborted) {
			var re *deskrec.Error
			if errors.As(e, &re) || errors.Is(e, rfb.ErrProtocol) || errors.Is(e, errPeer) {
				return e
			}
		}
	}
	return nil
}

// errAborted marks the end of a loop whose connection was closed (by the
// peer, by the other loop or by the session).
var errAborted = errors.New("connection closed")

// errPeer marks a protocol violation the proxy itself detected.
var errPeer = errors.New("vnc")

func ended(err error) error {
	var re *deskrec.Error
	if errors.As(err, &re) || errors.Is(err, rfb.ErrProtocol) || errors.Is(err, errPeer) {
		return err
	}
	if err == io.EOF || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return errAborted
	}
	return fmt.Errorf("%w: %v", errAborted, err)
}

// serverLoop decodes server messages and forwards each piece once it is
// decoded and recorded.
func (r *relayConn) serverLoop() error {
	h := &updateHandler{r: r}
	for {
		typ, err := r.ss.U8()
		if err != nil {
			return ended(err)
		}
		switch typ {
		case 0: // FramebufferUpdate
			if pf := r.nextPF.Swap(nil); pf != nil {
				r.dec.SetPixelFormat(*pf)
			}
			if err := r.dec.ReadUpdate(r.ss, h); err != nil {
				return ended(fmt.Errorf("server FramebufferUpdate: %w", err))
			}
		case 1: // SetColourMapEntries
			if err := r.dec.SetColourMapEntries(r.ss); err != nil {
				return ended(err)
			}
		case 2: // Bell
			if err := r.s.enc.Bell(r.s.since()); err != nil {
				return rec(err)
			}
		case 3: // ServerCutText
			if err := r.cutText(r.ss, r.viewer, 1); err != nil {
				return ended(err)
			}
		default:
			return fmt.Errorf("%w: the server sent message type %d, which the proxy does not carry", rfb.ErrProtocol, typ)
		}
		if _, err := r.viewer.Write(r.ss.Take()); err != nil {
			return ended(err)
		}
		if r.ss.Buffered() == 0 {
			if err := r.s.enc.Flush(); err != nil {
				return rec(err)
			}
		}
	}
}

// updateHandler records decoded rectangles and forwards their bytes.
type updateHandler struct{ r *relayConn }

func (h *updateHandler) t() time.Duration { return h.r.s.since() }

func (h *updateHandler) Pixels(rc image.Rectangle, pix []byte) error {
	return rec(h.r.s.enc.Rect(h.t(), rc, pix, rc.Dx()*4))
}

func (h *updateHandler) Copy(src image.Point, rc image.Rectangle) error {
	return rec(h.r.s.enc.Copy(h.t(), src, rc))
}

func (h *updateHandler) Resize(w, hh int) error { return rec(h.r.s.enc.Resize(h.t(), w, hh)) }

func (h *updateHandler) Cursor(hot image.Point, w, hh int, pix []byte) error {
	return rec(h.r.s.enc.Cursor(h.t(), hot, w, hh, pix))
}

func (h *updateHandler) CursorPos(x, y int) error { return rec(h.r.s.enc.CursorPos(h.t(), x, y)) }

func (h *updateHandler) DesktopName(name string) error {
	return rec(h.r.s.enc.Meta(h.t(), "desktop_name", name))
}

func (h *updateHandler) RectDone() error {
	if _, err := h.r.viewer.Write(h.r.ss.Take()); err != nil {
		return ended(err)
	}
	return nil
}

// viewerLoop decodes viewer messages, records input, rewrites
// SetEncodings and forwards the rest as is.
func (r *relayConn) viewerLoop() error {
	vs := r.vs
	for {
		typ, err := vs.U8()
		if err != nil {
			return ended(err)
		}
		switch typ {
		case 0: // SetPixelFormat
			b, err := vs.Next(19)
			if err != nil {
				return ended(err)
			}
			pf, err := rfb.ParsePixelFormat(b[3:])
			if err != nil {
				return fmt.Errorf("viewer SetPixelFormat: %w", err)
			}
			r.nextPF.Store(&pf)
		case 2: // SetEncodings: rewritten to what the recording decodes
			b, err := vs.Next(3)
			if err != nil {
				return ended(err)
			}
			n := int(binary.BigEndian.Uint16(b[1:]))
			lb, err := vs.Next(4 * n)
			if err != nil {
				return ended(err)
			}
			list := make([]int32, n)
			for i := range list {
				list[i] = int32(binary.BigEndian.Uint32(lb[i*4:]))
			}
			vs.Take()
			kept := rfb.FilterEncodings(list)
			msg := []byte{2, 0}
			msg = binary.BigEndian.AppendUint16(msg, uint16(len(kept)))
			for _, e := range kept {
				msg = binary.BigEndian.AppendUint32(msg, uint32(e))
			}
			if _, err := r.server.Write(msg); err != nil {
				return ended(err)
			}
			continue
		case 3: // FramebufferUpdateRequest
			if _, err := vs.Next(9); err != nil {
				return ended(err)
			}
		case 4: // KeyEvent
			b, err := vs.Next(7)
			if err != nil {
				return ended(err)
			}
			if err := r.s.enc.Key(r.s.since(), b[0] != 0, binary.BigEndian.Uint32(b[3:]), 0); err != nil {
				return rec(err)
			}
		case 5: // PointerEvent
			b, err := vs.Next(5)
			if err != nil {
				return ended(err)
			}
			x, y := binary.BigEndian.Uint16(b[1:]), binary.BigEndian.Uint16(b[3:])
			if err := r.s.enc.Pointer(r.s.since(), int(x), int(y), uint32(b[0])); err != nil {
				return rec(err)
			}
		case 6: // ClientCutText
			if err := r.cutText(vs, r.server, 0); err != nil {
				return ended(err)
			}
		case 251: // SetDesktopSize (ExtendedDesktopSize)
			b, err := vs.Next(7)
			if err != nil {
				return ended(err)
			}
			if _, err := vs.Next(int(b[5]) * 16); err != nil {
				return ended(err)
			}
		default:
			return fmt.Errorf("%w: the viewer sent message type %d, which the proxy does not carry", rfb.ErrProtocol, typ)
		}
		if _, err := r.server.Write(vs.Take()); err != nil {
			return ended(err)
		}
		if vs.Buffered() == 0 {
			if err := r.s.enc.Flush(); err != nil {
				return rec(err)
			}
		}
	}
}

// cutText carries a cut-text message body (after its type byte) from st
// to w in pieces, recording its size and its first ClipboardCap bytes
// (Latin-1, as RFB sends it, recorded as UTF-8).
func (r *relayConn) cutText(st *rfb.Stream, w io.Writer, dir uint8) error {
	b, err := st.Next(7)
	if err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(b[3:]))
	if n >= 1<<31 {
		return fmt.Errorf("%w: extended clipboard message, which was not negotiated", rfb.ErrProtocol)
	}
	keep := r.s.p.cfg.ClipboardCap
	var text []byte
	for rem := n; rem > 0; {
		chunk, err := st.Next(int(min(rem, 32<<10)))
		if err != nil {
			return err
		}
		for _, c := range chunk {
			if len(text) >= keep {
				break
			}
			text = utf8.AppendRune(text, rune(c))
		}
		rem -= int64(len(chunk))
		if rem > 0 {
			if _, err := w.Write(st.Take()); err != nil {
				return err
			}
		}
	}
	text = text[:min(len(text), keep)]
	for len(text) > 0 && !utf8.Valid(text) {
		text = text[:len(text)-1]
	}
	return rec(r.s.enc.Clipboard(r.s.since(), deskproto.ClipDir(dir), int(n), text))
}
