package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/onepam/onepam/pkg/relay"
	"github.com/onepam/onepam/recordfmt/querylog"
)

// The relay after login: each direction reads into its own buffer
// (inbuf), scans the messages where they lie, updates the request queue
// and the log from them, and forwards everything one read brought in one
// write. Nothing is copied message by message and no write is split per
// message; the log entries a read completes are written before the bytes
// that complete them are forwarded, so a client never sees the result of
// a statement that is not in the log.

// clientLoop reads the client's messages, notes the requests in the queue
// (decoding what the log needs) and forwards them to the server
// unchanged.
func (pc *pgConn) clientLoop(in *inbuf, server net.Conn) error {
	for {
		if err := pc.clientChunk(in, server); err != nil {
			return err
		}
		k, err := pc.client.Read(in.space())
		in.n += k
		if err != nil {
			if k > 0 {
				if cerr := pc.clientChunk(in, server); cerr != nil {
					return cerr
				}
			}
			return endOfStream(in, err)
		}
	}
}

// endOfStream is the error that ends a direction: a clean end between
// messages is io.EOF, one in the middle of a message is unexpected.
func endOfStream(in *inbuf, err error) error {
	if errors.Is(err, io.EOF) && (in.n > 0 || in.skip > 0) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// clientChunk handles the buffered client bytes: whole requests are
// decoded into the queue, and everything scanned goes to the server in
// one write. A request not all buffered yet waits for the next read.
func (pc *pgConn) clientChunk(in *inbuf, server net.Conn) error {
	p := in.skipped()
	var copyData int64
	quit := false
scan:
	for p < in.n {
		typ, body, ok, err := in.header(p)
		if err != nil {
			return pc.malformed("client", err)
		}
		if !ok {
			break
		}
		switch typ {
		case 'Q', 'P', 'B', 'E', 'D', 'C', 'F':
			if err := in.hold(p, typ, body); err != nil {
				return pc.malformed("client", err)
			}
			end := p + 5 + body
			if end > in.n {
				break scan
			}
			if err := pc.request(typ, in.buf[p+5:end]); err != nil {
				return pc.malformed("client", fmt.Errorf("%w: %q message: %v", errMalformed, typ, err))
			}
			p = end
		case 'S':
			pc.push(&pending{kind: pSync})
			p = in.stream(p, body)
		case 'd':
			copyData += int64(body)
			p = in.stream(p, body)
		case 'X':
			quit = true
			p = in.stream(p, body)
			break scan
		default:
			p = in.stream(p, body)
		}
	}
	if copyData > 0 {
		pc.mu.Lock()
		if pc.copyIn != nil {
			pc.copyIn.copyBytes += copyData
		}
		pc.mu.Unlock()
	}
	if p > 0 {
		if _, err := server.Write(in.buf[:p]); err != nil {
			return err
		}
	}
	in.consume(p)
	if quit {
		if err := pc.s.record(pc.entry(querylog.KindQuit, pc.s.info.Clock())); err != nil {
			return err
		}
		return errTerminated
	}
	return nil
}

// malformed records bytes that are not the protocol, tells the client and
// returns the error that ends the connection.
func (pc *pgConn) malformed(side string, err error) error {
	err = fmt.Errorf("%s sent a malformed message: %w", side, err)
	pc.fatal("08P01", err.Error())
	return pc.failed(err)
}

// serverLoop reads the server's messages, logs the results of requests
// and forwards them to the client unchanged.
func (pc *pgConn) serverLoop(in *inbuf, server net.Conn) error {
	if rc := relay.SyscallConn(server); rc != nil {
		return pc.serverLoopRaw(in, rc)
	}
	for {
		if err := pc.serverChunk(in); err != nil {
			return err
		}
		k, err := server.Read(in.space())
		in.n += k
		if err != nil {
			if k > 0 {
				if serr := pc.serverChunk(in); serr != nil {
					return serr
				}
			}
			return endOfStream(in, err)
		}
	}
}

// serverChunk handles the buffered server bytes: the queue and the log
// are updated from them (rows counted, results matched with requests),
// the entries they complete are written, and everything scanned goes to
// the client in one write.
func (pc *pgConn) serverChunk(in *inbuf) error {
	p := in.skipped()
	if p == in.n {
		if p > 0 {
			if _, err := pc.client.Write(in.buf[:p]); err != nil {
				return err
			}
			in.consume(p)
		}
		return nil
	}
	now := pc.s.info.Clock()
	entries := pc.done[:0]
	var bad error
	pc.mu.Lock()
scan:
	for p < in.n {
		typ, body, ok, err := in.header(p)
		if err != nil {
			bad = err
			break
		}
		if !ok {
			break
		}
		switch typ {
		case 'D':
			if h := pc.head(); h != nil {
				h.rows++
			}
			p = in.stream(p, body)
		case 'd':
			if h := pc.head(); h != nil {
				h.copyBytes += int64(body)
			}
			p = in.stream(p, body)
		case 'C', 'E', 't':
			if bad = in.hold(p, typ, body); bad != nil {
				break scan
			}
			end := p + 5 + body
			if end > in.n {
				break scan
			}
			if e, ok := pc.response(typ, in.buf[p+5:end], now); ok {
				entries = append(entries, e)
			}
			p = end
		case '1', '2', '3', 'T', 'n', 'I', 's', 'G', 'H', 'W', 'Z', 'V':
			if e, ok := pc.response(typ, nil, now); ok {
				entries = append(entries, e)
			}
			p = in.stream(p, body)
		default: // notices, notifications, parameter status: passed through
			p = in.stream(p, body)
		}
	}
	pc.mu.Unlock()
	var err error
	for i := range entries {
		if err == nil {
			err = pc.s.record(entries[i])
		}
		entries[i] = querylog.Entry{}
	}
	pc.done = entries[:0]
	switch {
	case err != nil:
		return err
	case bad != nil:
		return pc.malformed("server", bad)
	}
	if p > 0 {
		if _, err := pc.client.Write(in.buf[:p]); err != nil {
			return err
		}
	}
	in.consume(p)
	return nil
}
