package mysql

import (
	"fmt"
)

// acceptClient runs the server side of the connection phase with the
// person's client: it sends a Handshake v10 built from the real server's
// greeting g, reads the client's HandshakeResponse41 and, when the client
// used another auth plugin, switches it to mysql_native_password. The
// client's credentials are read and dropped: the session is authorised by
// control and the agent logs in with its own. It returns the response and
// the sequence id for the proxy's answer (OK or ERR).
func (m *mconn) acceptClient(g *greeting) (*handshakeResponse, byte, error) {
	scramble, err := newScramble()
	if err != nil {
		return nil, 0, err
	}
	offered := g.caps&relayCaps | capProtocol41 | capSecureConnection | capPluginAuth
	m.offered = offered
	pkt := appendGreeting(nil, g.version, uint32(m.id), offered, g.charset, g.status, scramble)
	if _, err := m.cw.write(0, pkt); err != nil {
		return nil, 0, fmt.Errorf("send the greeting to the client: %w", err)
	}
	if err := m.cw.flush(); err != nil {
		return nil, 0, fmt.Errorf("send the greeting to the client: %w", err)
	}
	p, _, err := m.cr.next()
	if err != nil {
		return nil, 0, fmt.Errorf("read the client's handshake response: %w", err)
	}
	seq := m.cr.last + 1
	h, err := parseHandshakeResponse(p)
	if err != nil {
		return nil, 0, m.refuseClient(seq, 1043, "08S01", err)
	}
	if h.sslOnly {
		return nil, 0, m.refuseClient(seq, 1043, "08S01", fmt.Errorf("the client asks for TLS, which this hop does not offer: the connection to the agent already runs inside OnePAM's TLS tunnel; connect without TLS (mariadb --skip-ssl, go-sql-driver tls=false)"))
	}
	if h.caps&capPluginAuth != 0 && h.plugin != "" && h.plugin != pluginNative {
		// AuthSwitchRequest to mysql_native_password with a new scramble;
		// the answer is read and dropped like the first one.
		sw := append([]byte{hdrEOF}, pluginNative...)
		sw = append(sw, 0)
		sw = append(append(sw, scramble...), 0)
		if _, err := m.cw.write(seq, sw); err != nil {
			return nil, 0, err
		}
		if err := m.cw.flush(); err != nil {
			return nil, 0, err
		}
		if _, _, err := m.cr.next(); err != nil {
			return nil, 0, fmt.Errorf("read the client's auth switch response: %w", err)
		}
		seq = m.cr.last + 1
	}
	return h, seq, nil
}

// refuseClient sends an ERR packet to the client and returns err.
func (m *mconn) refuseClient(seq byte, code uint16, state string, err error) error {
	m.cw.write(seq, errPayload(code, state, err.Error()))
	m.cw.flush()
	return err
}
