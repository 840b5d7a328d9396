package mysql

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// serverConn is the agent's connection to the database server.
type serverConn struct {
	conn net.Conn // the TLS connection when TLS is on
	r    *packetReader
	w    *packetWriter
	// rc is the socket's system call access in the command phase, nil
	// with TLS; await, sent and sendErr are flushAwait's.
	rc      syscall.RawConn
	await   func(uintptr) bool
	sent    bool
	sendErr error
}

// dialServer reads the server's greeting on a fresh connection.
func dialServer(conn net.Conn, bufSize, maxPayload int) (*serverConn, *greeting, error) {
	sc := &serverConn{conn: conn}
	sc.r = newPacketReader(bufio.NewReaderSize(conn, bufSize), maxPayload)
	sc.w = newPacketWriter(bufio.NewWriterSize(conn, bufSize))
	p, _, err := sc.r.next()
	if err != nil {
		return nil, nil, fmt.Errorf("read the server's greeting: %w", err)
	}
	g, err := parseGreeting(p)
	if err != nil {
		return nil, nil, err
	}
	return sc, g, nil
}

// loginParams is how the agent logs in to the server.
type loginParams struct {
	user, password, database string
	// caps are the client's capabilities to carry to the server (already
	// limited to what the proxy offered); connection-phase flags are set
	// by login.
	caps      uint32
	maxPacket uint32
	charset   byte
	attrs     []byte
	tls       *tls.Config // nil: no TLS
	// publicKeyFile pins the server's RSA key for caching_sha2_password
	// and sha256_password without TLS; "" requests it from the server.
	publicKeyFile string
	bufSize       int
	maxPayload    int
}

// login logs in as p.user on a server connection whose greeting g has
// been read. It returns the server's final OK packet payload (copied).
// A refusal by the server is returned as *errPacket.
func (sc *serverConn) login(ctx context.Context, g *greeting, p *loginParams) (ok []byte, err error) {
	if g.caps&capProtocol41 == 0 || g.caps&capSecureConnection == 0 {
		return nil, fmt.Errorf("server %q speaks the pre-4.1 protocol, which is not supported", g.version)
	}
	h := &handshakeResponse{
		caps:      p.caps&g.caps | capProtocol41 | capSecureConnection | capLongFlag,
		maxPacket: p.maxPacket,
		charset:   p.charset,
		user:      p.user,
		database:  p.database,
		attrs:     p.attrs,
	}
	h.caps &^= capConnectWithDB | capPluginAuth | capPluginAuthLenenc | capConnectAttrs | capSSL
	if h.maxPacket == 0 {
		h.maxPacket = 1 << 24
	}
	if h.charset == 0 {
		h.charset = g.charset
	}
	if p.database != "" {
		h.caps |= capConnectWithDB & g.caps
	}
	h.caps |= g.caps & (capPluginAuth | capPluginAuthLenenc)
	if len(p.attrs) > 0 {
		h.caps |= capConnectAttrs & g.caps
	}
	seq := byte(1)
	secure := false
	if p.tls != nil {
		if g.caps&capSSL == 0 {
			return nil, fmt.Errorf("server %q does not offer TLS (the resource has tls: %s)", g.version, tlsModeOf(p.tls))
		}
		h.caps |= capSSL
		ssl := *h
		ssl.sslOnly = true
		if _, err := sc.w.write(seq, appendHandshakeResponse(nil, &ssl, nil)); err != nil {
			return nil, err
		}
		if err := sc.w.flush(); err != nil {
			return nil, err
		}
		seq++
		tc := tls.Client(sc.conn, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS handshake with the server: %w", err)
		}
		sc.conn = tc
		sc.r = newPacketReader(bufio.NewReaderSize(tc, p.bufSize), p.maxPayload)
		sc.w = newPacketWriter(bufio.NewWriterSize(tc, p.bufSize))
		secure = true
	}
	plugin := g.plugin
	switch plugin {
	case pluginNative, pluginCachingSHA2:
	default:
		plugin = pluginNative // the server switches us to its choice
	}
	if h.caps&capPluginAuth != 0 {
		h.plugin = plugin
	}
	a := &authState{p: p, secure: secure}
	auth, err := a.start(plugin, g.scramble)
	if err != nil {
		return nil, err
	}
	if _, err := sc.w.write(seq, appendHandshakeResponse(nil, h, auth)); err != nil {
		return nil, err
	}
	if err := sc.w.flush(); err != nil {
		return nil, err
	}
	for {
		pkt, _, err := sc.r.next()
		if err != nil {
			return nil, fmt.Errorf("read the server's authentication answer: %w", err)
		}
		if len(pkt) == 0 {
			return nil, fmt.Errorf("server authentication: %w: empty packet", errMalformed)
		}
		var reply []byte
		switch pkt[0] {
		case hdrOK:
			return append([]byte(nil), pkt...), nil
		case hdrErr:
			return nil, parseErr(pkt)
		case hdrEOF: // AuthSwitchRequest
			if len(pkt) == 1 {
				return nil, errors.New("the server asks for mysql_old_password (pre-4.1 hashing), which is not supported")
			}
			r := reader{b: pkt[1:]}
			name := string(r.nulString())
			if reply, err = a.start(name, r.b); err != nil {
				return nil, err
			}
		case hdrAuthMore:
			if reply, err = a.more(pkt[1:]); err != nil {
				return nil, err
			}
			if reply == nil {
				continue // e.g. fast authentication succeeded: the OK follows
			}
		default:
			return nil, fmt.Errorf("server authentication: unexpected packet 0x%02x", pkt[0])
		}
		if _, err := sc.w.write(sc.r.last+1, reply); err != nil {
			return nil, err
		}
		if err := sc.w.flush(); err != nil {
			return nil, err
		}
	}
}

func tlsModeOf(c *tls.Config) TLSMode {
	if c.InsecureSkipVerify {
		return TLSRequire
	}
	return TLSVerifyFull
}

// authState runs the client side of one authentication exchange.
type authState struct {
	p        *loginParams
	secure   bool // TLS is on: the password may be sent as is
	plugin   string
	scramble []byte
}

// start answers the first challenge of plugin (in the greeting or an
// AuthSwitchRequest) with data as the scramble or nonce.
func (a *authState) start(plugin string, data []byte) ([]byte, error) {
	a.plugin = plugin
	a.scramble = append([]byte(nil), trimNUL(data)...)
	pw := a.p.password
	switch plugin {
	case pluginNative:
		return nativePassword(a.scramble, pw), nil
	case pluginCachingSHA2:
		return cachingSHA2Password(a.scramble, pw), nil
	case pluginEd25519:
		nonce := data
		if len(nonce) > 32 {
			nonce = nonce[:32]
		}
		return ed25519Password(nonce, pw)
	case pluginSHA256:
		switch {
		case pw == "":
			return []byte{0}, nil
		case a.secure:
			return append([]byte(pw), 0), nil
		case a.p.publicKeyFile != "":
			return a.encrypt(nil)
		}
		return []byte{1}, nil // request the server's public key
	case pluginClearPassword:
		if !a.secure {
			return nil, errors.New("the server asks for the password in clear text (mysql_clear_password); the agent only sends it over TLS: set tls: require or verify-full on the resource")
		}
		return append([]byte(pw), 0), nil
	}
	return nil, fmt.Errorf("the server asks for authentication plugin %q, which the agent does not support (supported: %s, %s, %s, %s)", plugin, pluginNative, pluginCachingSHA2, pluginEd25519, pluginSHA256)
}

// more answers an AuthMoreData packet (data without its 0x01 header); nil
// means no answer is due.
func (a *authState) more(data []byte) ([]byte, error) {
	switch a.plugin {
	case pluginCachingSHA2:
		if len(data) == 1 {
			switch data[0] {
			case 3: // fast authentication succeeded
				return nil, nil
			case 4: // full authentication
				switch {
				case a.secure:
					return append([]byte(a.p.password), 0), nil
				case a.p.publicKeyFile != "":
					return a.encrypt(nil)
				}
				return []byte{2}, nil // request the server's public key
			}
			return nil, fmt.Errorf("caching_sha2_password: unexpected status 0x%02x", data[0])
		}
		return a.encrypt(data) // the public key we asked for
	case pluginSHA256:
		return a.encrypt(data)
	}
	return nil, fmt.Errorf("%s: unexpected AuthMoreData packet", a.plugin)
}

// encrypt encrypts the password with the server's RSA key: pemKey when
// given, else the pinned key file.
func (a *authState) encrypt(pemKey []byte) ([]byte, error) {
	if a.p.publicKeyFile != "" {
		b, err := os.ReadFile(a.p.publicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server_public_key_file: %w", err)
		}
		pemKey = b
	}
	return rsaEncryptPassword(pemKey, a.scramble, a.p.password)
}
