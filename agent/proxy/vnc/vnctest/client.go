// Package vnctest holds test helpers for the VNC proxy: a small RFB 3.8
// client (Client) that keeps an exact framebuffer, and real VNC servers
// (Xvnc, x11vnc on Xvfb) started on free displays and ports.
package vnctest

import (
	"encoding/binary"
	"fmt"
	"image"
	"net"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
)

// Client is a minimal RFB client: it handshakes (3.8, or what the server
// speaks), keeps the framebuffer exactly, and sends input.
type Client struct {
	Conn  net.Conn
	Init  rfb.ServerInit
	Minor int
	s     *rfb.Stream
	dec   *rfb.Decoder
	fb    *image.RGBA
	// Bells and CutText count what the server sent.
	Bells   int
	CutText []string
	// Rects counts the rectangles of the last update.
	Rects int
}

// NewClient runs the handshake on conn (password for VNC Authentication,
// "" for None) and sends a shared ClientInit.
func NewClient(conn net.Conn, password string) (*Client, error) {
	c := &Client{Conn: conn, s: rfb.NewStream(conn, false)}
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	defer conn.SetDeadline(time.Time{})
	minor, err := rfb.ClientHandshake(c.s, conn, password)
	if err != nil {
		return nil, err
	}
	c.Minor = minor
	if _, err := conn.Write([]byte{1}); err != nil {
		return nil, err
	}
	if c.Init, err = rfb.ReadServerInit(c.s); err != nil {
		return nil, err
	}
	c.dec = rfb.NewDecoder(c.Init.Width, c.Init.Height, c.Init.PixelFormat)
	c.fb = image.NewRGBA(image.Rect(0, 0, c.Init.Width, c.Init.Height))
	return c, nil
}

// Dial connects to addr and runs NewClient.
func Dial(addr, password string) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(conn, password)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Frame returns the client's framebuffer.
func (c *Client) Frame() *image.RGBA { return c.fb }

// SetEncodings sends SetEncodings.
func (c *Client) SetEncodings(encs ...int32) error {
	b := []byte{2, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(encs)))
	for _, e := range encs {
		b = binary.BigEndian.AppendUint32(b, uint32(e))
	}
	_, err := c.Conn.Write(b)
	return err
}

// SetPixelFormat sends SetPixelFormat; updates after it use pf.
func (c *Client) SetPixelFormat(pf rfb.PixelFormat) error {
	_, err := c.Conn.Write(append([]byte{0, 0, 0, 0}, pf.Bytes()...))
	if err == nil {
		c.dec.SetPixelFormat(pf)
	}
	return err
}

// Request asks for an update of the whole screen.
func (c *Client) Request(incremental bool) error {
	b := []byte{3, 0}
	if incremental {
		b[1] = 1
	}
	w, h := c.dec.Size()
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(w))
	b = binary.BigEndian.AppendUint16(b, uint16(h))
	_, err := c.Conn.Write(b)
	return err
}

// Key sends a KeyEvent.
func (c *Client) Key(down bool, keysym uint32) error {
	b := []byte{4, 0, 0, 0}
	if down {
		b[1] = 1
	}
	_, err := c.Conn.Write(binary.BigEndian.AppendUint32(b, keysym))
	return err
}

// Pointer sends a PointerEvent.
func (c *Client) Pointer(x, y int, mask uint8) error {
	b := []byte{5, mask}
	b = binary.BigEndian.AppendUint16(b, uint16(x))
	_, err := c.Conn.Write(binary.BigEndian.AppendUint16(b, uint16(y)))
	return err
}

// ClientCutText sends clipboard text (Latin-1).
func (c *Client) ClientCutText(text string) error {
	b := binary.BigEndian.AppendUint32([]byte{6, 0, 0, 0}, uint32(len(text)))
	_, err := c.Conn.Write(append(b, text...))
	return err
}

// ReadUpdate reads server messages until one FramebufferUpdate has been
// applied to the framebuffer.
func (c *Client) ReadUpdate(timeout time.Duration) error {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.Conn.SetReadDeadline(time.Time{})
	for {
		typ, err := c.s.U8()
		if err != nil {
			return err
		}
		switch typ {
		case 0:
			c.Rects = 0
			return c.dec.ReadUpdate(c.s, (*fbHandler)(c))
		case 1:
			if err := c.dec.SetColourMapEntries(c.s); err != nil {
				return err
			}
		case 2:
			c.Bells++
		case 3:
			b, err := c.s.Next(7)
			if err != nil {
				return err
			}
			t, err := c.s.Next(int(binary.BigEndian.Uint32(b[3:])))
			if err != nil {
				return err
			}
			c.CutText = append(c.CutText, string(t))
		default:
			return fmt.Errorf("vnctest: server message type %d", typ)
		}
	}
}

type fbHandler Client

func (h *fbHandler) Pixels(r image.Rectangle, pix []byte) error {
	for y := 0; y < r.Dy(); y++ {
		copy(h.fb.Pix[(r.Min.Y+y)*h.fb.Stride+r.Min.X*4:], pix[y*r.Dx()*4:(y+1)*r.Dx()*4])
	}
	return nil
}

func (h *fbHandler) Copy(src image.Point, r image.Rectangle) error {
	tmp := image.NewRGBA(r.Sub(r.Min))
	for y := 0; y < r.Dy(); y++ {
		copy(tmp.Pix[y*tmp.Stride:], h.fb.Pix[(src.Y+y)*h.fb.Stride+src.X*4:][:r.Dx()*4])
	}
	return h.Pixels(r, tmp.Pix)
}

func (h *fbHandler) Resize(w, hh int) error {
	nfb := image.NewRGBA(image.Rect(0, 0, w, hh))
	for y := 0; y < min(hh, h.fb.Bounds().Dy()); y++ {
		copy(nfb.Pix[y*nfb.Stride:][:min(w, h.fb.Bounds().Dx())*4], h.fb.Pix[y*h.fb.Stride:])
	}
	h.fb = nfb
	return nil
}

func (h *fbHandler) Cursor(image.Point, int, int, []byte) error { return nil }
func (h *fbHandler) CursorPos(int, int) error                   { return nil }
func (h *fbHandler) DesktopName(string) error                   { return nil }
func (h *fbHandler) RectDone() error                            { h.Rects++; return nil }
