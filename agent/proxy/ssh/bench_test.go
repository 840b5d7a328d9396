package ssh

import (
	"io"
	"net"
	"os"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/agent/proxy/ssh/sshtest"
)

// BenchmarkBulkOutput reads `head -c 256M /dev/zero` from sshd, straight
// and through the proxy (recording on, into a counting sink), with
// x/crypto/ssh clients. Compare the MB/s of the two.
func BenchmarkBulkOutput(b *testing.B) {
	d := sshtest.Start(b)
	const size = 256 << 20
	run := func(b *testing.B, c *gossh.Client) {
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			s, err := c.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			out, _ := s.StdoutPipe()
			if err := s.Start("head -c 256M /dev/zero"); err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, out)
			if err != nil || n != size {
				b.Fatalf("read %d bytes: %v", n, err)
			}
			if err := s.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		key, err := os.ReadFile(d.KeyFile)
		if err != nil {
			b.Fatal(err)
		}
		signer, err := gossh.ParsePrivateKey(key)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := net.Dial("tcp", d.Addr)
		if err != nil {
			b.Fatal(err)
		}
		sc, chans, reqs, err := gossh.NewClientConn(conn, d.Addr, &gossh.ClientConfig{
			User: d.User, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(),
			Config:          gossh.Config{Ciphers: Config{}.withDefaults().Ciphers},
		})
		if err != nil {
			b.Fatal(err)
		}
		c := gossh.NewClient(sc, chans, reqs)
		defer c.Close()
		run(b, c)
	})
	b.Run("proxy", func(b *testing.B) {
		h := mustOpen(b, remoteTarget(d), harnessOpts{login: d.User, address: d.Addr, discardRec: true})
		run(b, h.client())
		b.StopTimer()
		h.sess.Close()
		b.ReportMetric(float64(h.rec.n)/float64(b.N*size), "rec-bytes/out-byte")
	})
}
