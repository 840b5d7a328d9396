package ssh

import (
	"context"
	"io"
	"log/slog"
	"sync"

	gossh "golang.org/x/crypto/ssh"
)

// directTCPIP serves a local port forwarding channel (ssh -L): refused
// unless the resource sets allow_port_forwarding, logged when allowed.
func (s *session) directTCPIP(ctx context.Context, nc gossh.NewChannel, log *slog.Logger) {
	var d directTCPIP
	if err := gossh.Unmarshal(nc.ExtraData(), &d); err != nil {
		nc.Reject(gossh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	if !s.tc.AllowPortForwarding {
		log.Info("port forwarding refused", "host", d.Host, "port", d.Port)
		nc.Reject(gossh.Prohibited, "port forwarding is not allowed on this resource")
		return
	}
	t, err := s.be.forward(ctx, d.Host, d.Port, nc.ExtraData())
	if err != nil {
		log.Info("port forwarding failed", "host", d.Host, "port", d.Port, "err", err)
		nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		t.Close()
		return
	}
	go gossh.DiscardRequests(reqs)
	log.Info("port forwarding", "host", d.Host, "port", d.Port, "originator", d.OrigHost, "originator_port", d.OrigPort)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.copyPlain(t, ch)
		closeWrite(t)
	}()
	s.copyPlain(ch, t)
	ch.CloseWrite()
	wg.Wait()
	ch.Close()
	t.Close()
}

// copyPlain copies with a pooled buffer, unrecorded.
func (s *session) copyPlain(dst io.Writer, src io.Reader) {
	bp := s.p.bufs.Get().(*[]byte)
	defer s.p.bufs.Put(bp)
	io.CopyBuffer(onlyWriter{dst}, onlyReader{src}, *bp)
}

// onlyWriter and onlyReader hide ReadFrom/WriteTo so io.CopyBuffer uses
// the pooled buffer.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }

// closeWrite half-closes c when it can, or closes it.
func closeWrite(c io.Closer) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}
