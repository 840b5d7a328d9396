package vnc

import (
	"testing"
	"time"

	"github.com/onepam/onepam/agent/proxy/vnc/rfb"
	"github.com/onepam/onepam/agent/proxy/vnc/vnctest"
)

// BenchmarkFullScreen measures full-screen (640x480) updates carried to a
// Go client straight from Xvnc and through the proxy with recording on,
// side by side, per encoding. Each op is one non-incremental update
// request answered with the whole screen; MB/s counts decoded 32-bit
// pixels.
func BenchmarkFullScreen(b *testing.B) {
	srv := vnctest.StartXvnc(b)
	srv.Run(b, "xsetroot", "-mod", "3", "5", "-fg", "#3366cc", "-bg", "#ffcc00")
	for _, enc := range []struct {
		name string
		enc  int32
	}{{"raw", rfb.EncRaw}, {"hextile", rfb.EncHextile}, {"zrle", rfb.EncZRLE}} {
		for _, via := range []string{"direct", "proxy"} {
			b.Run(enc.name+"/"+via, func(b *testing.B) {
				addr := srv.Addr
				var h *harness
				if via == "proxy" {
					var err error
					if h, err = openSession(b, Config{}, srv.Addr, nil); err != nil {
						b.Fatal(err)
					}
					addr = h.Addr
				}
				cl, err := vnctest.Dial(addr, "")
				if err != nil {
					b.Fatal(err)
				}
				cl.SetEncodings(enc.enc)
				b.SetBytes(640 * 480 * 4)
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if err := cl.Request(false); err != nil {
						b.Fatal(err)
					}
					if err := cl.ReadUpdate(20 * time.Second); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
				b.StopTimer()
				cl.Close()
				if h != nil {
					<-h.Errs
					b.ReportMetric(float64(len(h.Rec.Bytes())), "rec-bytes")
				}
			})
		}
	}
}

// BenchmarkRecordingRate records 5 s of a screen where a clock ticks every
// second (xclock, 200x200) and reports the recording's bytes per second.
// Run with -benchtime=1x.
func BenchmarkRecordingRate(b *testing.B) {
	srv := vnctest.StartXvnc(b)
	srv.Run(b, "xsetroot", "-solid", "#204060")
	srv.Start(b, "xclock", "-update", "1", "-geometry", "200x200+50+50")
	for i := 0; i < b.N; i++ {
		h, err := openSession(b, Config{}, srv.Addr, nil)
		if err != nil {
			b.Fatal(err)
		}
		cl, err := vnctest.Dial(h.Addr, "")
		if err != nil {
			b.Fatal(err)
		}
		cl.SetEncodings(rfb.EncZRLE, rfb.EncCopyRect)
		cl.Request(false)
		start := time.Now()
		for time.Since(start) < 5*time.Second {
			if err := cl.ReadUpdate(20 * time.Second); err != nil {
				b.Fatal(err)
			}
			cl.Request(true)
		}
		cl.Close()
		<-h.Errs
		h.Sess.Close()
		n := len(h.Rec.Bytes())
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rec-bytes/s")
		b.ReportMetric(float64(n), "rec-bytes")
	}
}
