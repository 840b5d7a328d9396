package rfb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Security types.
const (
	SecInvalid = 0
	SecNone    = 1
	SecVNCAuth = 2
)

// AuthError is the server refusing the connection during the security
// handshake, with its reason when it gave one.
type AuthError struct {
	Reason string
}

func (e *AuthError) Error() string {
	if e.Reason == "" {
		return "the VNC server refused the authentication"
	}
	return "the VNC server refused the connection: " + e.Reason
}

// ErrPasswordNeeded means the server only offers VNC Authentication and
// no password is configured.
var ErrPasswordNeeded = errors.New("the VNC server requires a password (VNC Authentication) and none is configured for this resource")

// ReadVersion reads a ProtocolVersion message and returns the minor
// version the sender will speak with a 3.x peer: 3, 7 or 8 (3.5 counts as
// 3.3, later 3.x as 3.8).
func ReadVersion(s *Stream) (int, error) {
	b, err := s.Next(12)
	if err != nil {
		return 0, err
	}
	var major, minor int
	if _, err := fmt.Sscanf(string(b), "RFB %03d.%03d\n", &major, &minor); err != nil || b[11] != '\n' {
		return 0, protoErr("not an RFB protocol version: %q", b)
	}
	if major != 3 {
		return 0, protoErr("RFB version %d.%d is not supported (want 3.x)", major, minor)
	}
	switch {
	case minor >= 8:
		return 8, nil
	case minor == 7:
		return 7, nil
	default:
		return 3, nil
	}
}

// VersionBytes is the ProtocolVersion message of minor version 3, 7 or 8.
func VersionBytes(minor int) []byte {
	return fmt.Appendf(nil, "RFB 003.%03d\n", minor)
}

func readReason(s *Stream) string {
	n, err := s.U32()
	if err != nil || n > 4096 {
		return ""
	}
	b, err := s.Next(int(n))
	if err != nil {
		return ""
	}
	return string(b)
}

// ClientHandshake runs the client side of the handshake with a server up
// to and including the SecurityResult: version (at most 3.8), security
// type (VNC Authentication when a password is given and offered, else
// None) and authentication. It returns the minor version in use. A
// refusal is an *AuthError with the server's reason.
func ClientHandshake(s *Stream, w io.Writer, password string) (int, error) {
	minor, err := ReadVersion(s)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(VersionBytes(minor)); err != nil {
		return 0, err
	}
	var sec byte
	if minor == 3 {
		t, err := s.U32()
		if err != nil {
			return 0, err
		}
		switch t {
		case SecInvalid:
			return 0, &AuthError{Reason: readReason(s)}
		case SecNone, SecVNCAuth:
			sec = byte(t)
		default:
			return 0, protoErr("security type %d", t)
		}
		if sec == SecVNCAuth && password == "" {
			return 0, ErrPasswordNeeded
		}
	} else {
		n, err := s.U8()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, &AuthError{Reason: readReason(s)}
		}
		types, err := s.Next(int(n))
		if err != nil {
			return 0, err
		}
		var none, vnc bool
		for _, t := range types {
			none = none || t == SecNone
			vnc = vnc || t == SecVNCAuth
		}
		switch {
		case vnc && password != "":
			sec = SecVNCAuth
		case none:
			sec = SecNone
		case vnc:
			return 0, ErrPasswordNeeded
		default:
			return 0, fmt.Errorf("the VNC server offers only security types %v; the agent supports None (1) and VNC Authentication (2)", types)
		}
		if _, err := w.Write([]byte{sec}); err != nil {
			return 0, err
		}
	}
	if sec == SecVNCAuth {
		ch, err := s.Next(16)
		if err != nil {
			return 0, err
		}
		resp, err := VNCAuthResponse(password, ch)
		if err != nil {
			return 0, err
		}
		if _, err := w.Write(resp); err != nil {
			return 0, err
		}
	}
	if sec == SecNone && minor < 8 {
		return minor, nil // no SecurityResult for None before 3.8
	}
	res, err := s.U32()
	if err != nil {
		return 0, err
	}
	if res != 0 {
		ae := &AuthError{}
		if minor == 8 {
			ae.Reason = readReason(s)
		}
		return 0, ae
	}
	return minor, nil
}

// ServerHandshake runs the server side of the handshake with a viewer,
// offering only security type None: the version the viewer asks for
// (3.3, 3.7 or 3.8) picks the message layouts. It returns that minor
// version.
func ServerHandshake(s *Stream, w io.Writer) (int, error) {
	if _, err := w.Write(VersionBytes(8)); err != nil {
		return 0, err
	}
	minor, err := ReadVersion(s)
	if err != nil {
		return 0, err
	}
	if minor == 3 {
		_, err := w.Write([]byte{0, 0, 0, SecNone})
		return minor, err
	}
	if _, err := w.Write([]byte{1, SecNone}); err != nil {
		return 0, err
	}
	t, err := s.U8()
	if err != nil {
		return 0, err
	}
	if t != SecNone {
		return 0, protoErr("the viewer chose security type %d, not None", t)
	}
	if minor == 8 {
		if _, err := w.Write([]byte{0, 0, 0, 0}); err != nil {
			return 0, err
		}
	}
	return minor, nil
}

// ServerInit is the server's ServerInit message.
type ServerInit struct {
	Width, Height int
	PixelFormat   PixelFormat
	Name          string
}

// ReadServerInit reads a ServerInit message.
func ReadServerInit(s *Stream) (ServerInit, error) {
	b, err := s.Next(24)
	if err != nil {
		return ServerInit{}, err
	}
	si := ServerInit{Width: int(binary.BigEndian.Uint16(b)), Height: int(binary.BigEndian.Uint16(b[2:]))}
	if si.PixelFormat, err = ParsePixelFormat(b[4:20]); err != nil {
		return si, err
	}
	n := binary.BigEndian.Uint32(b[20:])
	if n > 1<<16 {
		return si, protoErr("desktop name of %d bytes", n)
	}
	name, err := s.Next(int(n))
	if err != nil {
		return si, err
	}
	si.Name = string(name)
	return si, nil
}

// Bytes encodes the ServerInit message.
func (si ServerInit) Bytes() []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(si.Width))
	b = binary.BigEndian.AppendUint16(b, uint16(si.Height))
	b = append(b, si.PixelFormat.Bytes()...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(si.Name)))
	return append(b, si.Name...)
}
