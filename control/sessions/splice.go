package sessions

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// spliceBufSize is the size of the pooled copy buffers.
const spliceBufSize = 256 << 10

var bufPool = sync.Pool{New: func() any {
	b := make([]byte, spliceBufSize)
	return &b
}}

// countingWriter adds every written byte count to n.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	k, err := c.w.Write(p)
	c.n.Add(int64(k))
	return k, err
}

// readerOnly hides WriterTo so that io.CopyBuffer uses the pooled buffer
// and the counting writer sees every byte.
type readerOnly struct{ r io.Reader }

func (r readerOnly) Read(p []byte) (int, error) { return r.r.Read(p) }

// splice copies bytes both ways between the person's connection and the
// agent's stream until both directions end, counting person → agent in up
// and agent → person in down. A clean end of one direction is propagated
// as a half-close (CloseWrite) so request/response protocols that
// half-close work; an error in either direction closes both. pre is
// written to the agent first (bytes already read from the person).
func splice(client, agent net.Conn, pre []byte, up, down *atomic.Int64) {
	errc := make(chan error, 2)
	go func() { errc <- pipe(agent, client, pre, up) }()
	go func() { errc <- pipe(client, agent, nil, down) }()
	if err := <-errc; err != nil {
		_ = client.Close()
		abortAgent(agent)
	}
	<-errc
	_ = client.Close()
	_ = agent.Close()
}

// pipe copies src to dst, then half-closes dst when src ended cleanly.
func pipe(dst, src net.Conn, pre []byte, n *atomic.Int64) error {
	if len(pre) > 0 {
		k, err := dst.Write(pre)
		n.Add(int64(k))
		if err != nil {
			return err
		}
	}
	bp := bufPool.Get().(*[]byte)
	_, err := io.CopyBuffer(countingWriter{w: dst, n: n}, readerOnly{r: src}, *bp)
	bufPool.Put(bp)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// A peer that closed its socket without a TLS close_notify:
			// treat as the end of its data.
			return closeWrite(dst)
		}
		return err
	}
	return closeWrite(dst)
}

// closeWrite half-closes c: CloseWrite when c has it (TCP, TLS), Close
// otherwise (a yamux stream's Close only ends the sending side).
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
