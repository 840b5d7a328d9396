package tunnel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// tlsYamuxPair returns a client and a server yamux session over TLS 1.3 on
// loopback, as the agent and control run them.
func tlsYamuxPair(tb testing.TB) (client, server *yamux.Session) {
	tb.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_ = c.(*tls.Conn).Handshake() // tls.Dial below waits for it
		}
		accepted <- c
	}()
	cc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		tb.Fatal(err)
	}
	sc := <-accepted
	if client, err = Client(cc); err != nil {
		tb.Fatal(err)
	}
	if server, err = Server(sc); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// BenchmarkYamuxPingPong: one 64-byte request and its answer over a yamux
// stream on TLS — the shape of a database query or a keystroke echo.
func BenchmarkYamuxPingPong(b *testing.B) {
	client, server := tlsYamuxPair(b)
	go func() {
		s, err := server.AcceptStream()
		if err != nil {
			return
		}
		_, _ = io.Copy(s, s)
	}()
	st, err := client.OpenStream()
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 64)
	buf := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	defer reportCPU(b)()
	for i := 0; i < b.N; i++ {
		if _, err := st.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(st, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYamuxBulk: 256 KiB writes one way over a yamux stream on TLS.
func BenchmarkYamuxBulk(b *testing.B) {
	client, server := tlsYamuxPair(b)
	go func() {
		s, err := server.AcceptStream()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, s)
	}()
	st, err := client.OpenStream()
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 256<<10)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkYamuxPingPongParallel: 8 streams each doing 64-byte round trips
// at once over one yamux session on TLS — the shape of pgbench -c 8
// through control and the agent. cpu-µs/op is the CPU of both ends (user
// + system) per round trip, what the relays spend on 2 shared cores.
func BenchmarkYamuxPingPongParallel(b *testing.B) {
	client, server := tlsYamuxPair(b)
	go func() {
		for {
			s, err := server.AcceptStream()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(s, s) }()
		}
	}()
	const streams = 8
	sts := make([]net.Conn, streams)
	for i := range sts {
		st, err := client.OpenStream()
		if err != nil {
			b.Fatal(err)
		}
		sts[i] = st
	}
	b.ResetTimer()
	defer reportCPU(b)()
	errc := make(chan error, streams)
	for i, st := range sts {
		n := b.N / streams
		if i < b.N%streams {
			n++
		}
		go func() {
			msg, buf := make([]byte, 64), make([]byte, 64)
			for j := 0; j < n; j++ {
				if _, err := st.Write(msg); err != nil {
					errc <- err
					return
				}
				if _, err := io.ReadFull(st, buf); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range sts {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process's CPU time (user + system) per operation
// between its call and the call of the function it returns.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
