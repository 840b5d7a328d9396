package cli

import (
	"errors"
	"io"
	"net"
	"sync"
)

// spliceBufferSize is the copy buffer of each direction of a splice.
const spliceBufferSize = 256 << 10

var spliceBuffers = sync.Pool{New: func() any {
	b := make([]byte, spliceBufferSize)
	return &b
}}

// Splice copies bytes both ways between a and b until both directions have
// ended. The end of one direction is passed on as a half-close
// (CloseWrite) so that the other keeps flowing; an error in either closes
// both connections. It returns the bytes copied a → b and b → a, and closes
// both connections before returning. Buffers are pooled: the copy loop
// allocates nothing per read.
func Splice(a, b net.Conn) (aToB, bToA int64) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bToA = copyHalf(a, b)
	}()
	aToB = copyHalf(b, a)
	wg.Wait()
	a.Close()
	b.Close()
	return aToB, bToA
}

// copyHalf copies src to dst; at src's end it half-closes dst, on an error
// it closes both.
func copyHalf(dst, src net.Conn) int64 {
	buf := spliceBuffers.Get().(*[]byte)
	defer spliceBuffers.Put(buf)
	// The wrappers hide ReaderFrom/WriterTo so that the pooled buffer is
	// the one used, whatever the connection types.
	n, err := io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *buf)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		dst.Close()
		src.Close()
		return n
	}
	if err == nil {
		closeWrite(dst)
	}
	return n
}

type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		if hc.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}
