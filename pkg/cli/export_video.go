package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"image/png"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/deskproto"
)

// Export formats of desktop recordings besides the native stream.
const (
	exportGIF       = "gif"       // animated GIF (image/gif, Plan 9 palette, Floyd–Steinberg)
	exportMP4       = "mp4"       // H.264 video through ffmpeg
	exportDeskproto = "deskproto" // the native stream (.dpr), desktops only
)

// errFFmpegMissing is the error of an mp4 export without ffmpeg.
var errFFmpegMissing = errors.New("mp4 export needs ffmpeg on PATH, which was not found: install it (Debian and Ubuntu: sudo apt install ffmpeg; macOS: brew install ffmpeg), or export --format gif")

// desktopFrame is one distinct screen of a desktop recording.
type desktopFrame struct {
	T     time.Duration // when it appeared
	Delay time.Duration // how long it stays
	Img   *image.RGBA   // the player's image: valid until the next frame
}

// sampleFrames calls fn for the screen every interval from 0 to the end
// of the recording, skipping times before the first screen and merging
// screens identical to the one before (their time goes to its Delay), so
// the delays follow the recording's times. The last frame stays until the
// end of the recording (at least one interval). progress is told the
// number of samples done and their total.
func sampleFrames(p *deskproto.Player, every time.Duration, progress func(done, total int), fn func(desktopFrame) error) (int, error) {
	if every <= 0 {
		return 0, fmt.Errorf("frame interval %v must be positive", every)
	}
	total := int(p.Duration()/every) + 1
	var (
		prev    []byte
		prevImg *image.RGBA
		pending *desktopFrame
		n       int
	)
	flush := func(until time.Duration) error {
		if pending == nil {
			return nil
		}
		pending.Delay = until - pending.T
		pending.Img = prevImg
		n++
		return fn(*pending)
	}
	for i := 0; i < total; i++ {
		t := time.Duration(i) * every
		img, err := p.Frame(t)
		if err != nil {
			return n, err
		}
		if progress != nil {
			progress(i+1, total)
		}
		if img.Bounds().Empty() {
			continue
		}
		if prevImg != nil && prevImg.Bounds() == img.Bounds() && bytes.Equal(prev, img.Pix) {
			continue
		}
		// The player's image changes with the next seek: fn sees a copy.
		if err := flush(t); err != nil {
			return n, err
		}
		cp := image.NewRGBA(img.Bounds())
		copy(cp.Pix, img.Pix)
		prev, prevImg = cp.Pix, cp
		pending = &desktopFrame{T: t}
	}
	if pending == nil {
		return 0, errors.New("the recording holds no screen")
	}
	return n, flush(max(p.Duration(), pending.T+every))
}

// writeGIF writes the recording as an animated GIF, sampled every
// interval, looping forever. Frames are streamed (image/gif encodes whole
// animations only: each frame is encoded alone with the Plan 9 palette as
// the global colour table, and its blocks are spliced in), so memory does
// not grow with the recording. Every frame has the first screen's size
// (a later resize is cropped or padded).
func writeGIF(w io.Writer, p *deskproto.Player, every time.Duration, progress func(done, total int)) error {
	var (
		screen image.Rectangle
		buf    bytes.Buffer
	)
	pal := color.Palette(palette.Plan9)
	_, err := sampleFrames(p, every, progress, func(f desktopFrame) error {
		first := screen.Empty()
		if first {
			screen = f.Img.Bounds()
		}
		img := image.NewPaletted(screen, pal)
		draw.FloydSteinberg.Draw(img, screen, f.Img, screen.Min)
		buf.Reset()
		one := &gif.GIF{
			Image:  []*image.Paletted{img},
			Delay:  []int{max(int((f.Delay+5*time.Millisecond)/(10*time.Millisecond)), 1)},
			Config: image.Config{ColorModel: pal, Width: screen.Dx(), Height: screen.Dy()},
		}
		if err := gif.EncodeAll(&buf, one); err != nil {
			return fmt.Errorf("encode gif: %w", err)
		}
		b := buf.Bytes()
		if len(b) < gifHeaderLen+1 || b[len(b)-1] != 0x3b {
			return errors.New("encode gif: unexpected encoder output")
		}
		if first {
			if _, err := w.Write(b[:gifHeaderLen]); err != nil {
				return err
			}
			if _, err := w.Write(gifLoopForever); err != nil {
				return err
			}
		}
		_, err := w.Write(b[gifHeaderLen : len(b)-1]) // the frame's blocks, without the trailer
		return err
	})
	if err != nil {
		return err
	}
	_, err = w.Write([]byte{0x3b}) // trailer
	return err
}

// gifHeaderLen is the length of a GIF's signature, logical screen
// descriptor and 256-colour global colour table.
const gifHeaderLen = 6 + 7 + 256*3

// gifLoopForever is the NETSCAPE2.0 application extension with a loop
// count of 0 (forever).
var gifLoopForever = []byte{0x21, 0xff, 0x0b, 'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0', 0x03, 0x01, 0x00, 0x00, 0x00}

// writeMP4 pipes the recording's screens as PNG images to ffmpeg, which
// writes an H.264 mp4 to path ("-": w). Every sample is sent (ffmpeg
// needs a constant frame rate of 1/every), so frame i shows the screen at
// i×every; samples before the first screen are black.
func writeMP4(ctx context.Context, w io.Writer, path string, p *deskproto.Player, every time.Duration, progress func(done, total int)) error {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return errFFmpegMissing
	}
	if every <= 0 {
		return fmt.Errorf("frame interval %v must be positive", every)
	}
	rate := strconv.FormatFloat(float64(time.Second)/float64(every), 'f', -1, 64)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "image2pipe", "-framerate", rate, "-i", "-",
		"-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p", "-c:v", "libx264"}
	if path == "-" {
		args = append(args, "-movflags", "frag_keyframe+empty_moov", "-f", "mp4", "pipe:1")
	} else {
		args = append(args, "-f", "mp4", path)
	}
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &errBuf
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ffmpeg: %w", err)
	}
	total := int(p.Duration()/every) + 1
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	var last *image.RGBA
	var werr error
	lead := 0 // samples before the first screen
	for i := 0; i < total && werr == nil; i++ {
		img, err := p.Frame(time.Duration(i) * every)
		if err != nil {
			werr = err
			break
		}
		if progress != nil {
			progress(i+1, total)
		}
		if img.Bounds().Empty() {
			lead++
			continue
		}
		// Frame i of the video is the screen at i×every: the samples
		// before the first screen are black frames of its size, so the
		// video keeps the recording's clock.
		if last == nil {
			black := image.NewRGBA(img.Bounds())
			for j := range black.Pix {
				if j%4 == 3 {
					black.Pix[j] = 0xff
				}
			}
			for ; lead > 0 && werr == nil; lead-- {
				werr = enc.Encode(in, black)
			}
			if werr != nil {
				break
			}
		}
		last = img
		werr = enc.Encode(in, img)
	}
	if werr == nil && last == nil {
		werr = errors.New("the recording holds no screen")
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(errBuf.String())
		return fmt.Errorf("ffmpeg: %w: %s", err, msg)
	}
	if werr != nil {
		return fmt.Errorf("send frames to ffmpeg: %w", werr)
	}
	return nil
}

// frameProgress draws "label [====    ]  40% frame 4/10" on a terminal
// (bar; nil draws nothing), at most ten times a second, like the byte
// progressWriter of the native export.
type frameProgress struct {
	bar   io.Writer
	label string
	now   func() time.Time
	last  time.Time
	done  int
	total int
	drawn bool
}

func (fp *frameProgress) update(done, total int) {
	fp.done, fp.total = done, total
	if fp.bar == nil {
		return
	}
	if t := fp.now(); t.Sub(fp.last) >= 100*time.Millisecond || done == total {
		fp.last = t
		fp.draw()
	}
}

func (fp *frameProgress) draw() {
	const width = 30
	frac := 1.0
	if fp.total > 0 {
		frac = min(float64(fp.done)/float64(fp.total), 1)
	}
	fill := int(frac * width)
	fmt.Fprintf(fp.bar, "\r%s [%s%s] %3.0f%% frame %d/%d\x1b[K", fp.label, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, fp.done, fp.total)
	fp.drawn = true
}

// Done ends the bar's line.
func (fp *frameProgress) Done() {
	if fp.drawn {
		fmt.Fprintln(fp.bar)
	}
}

// exportDesktop writes a desktop session's recording as gif or mp4.
func exportDesktop(ctx context.Context, opts *SessionsExportOptions) (err error) {
	p, s, done, err := openDesktopPlayer(ctx, opts.Client, opts.ID, opts.Format+" export")
	if err != nil {
		return err
	}
	defer done()
	path := opts.Out
	if path == "" {
		path = s.ID + "." + opts.Format
	}
	var bar io.Writer
	if opts.IO.IsStderrTTY() {
		bar = opts.IO.ErrOut
	}
	fp := &frameProgress{bar: bar, label: "exporting " + s.ID, now: time.Now}
	var dst io.Writer = opts.IO.Out
	var f *os.File
	if path != "-" && opts.Format == exportGIF {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		dst = f
	}
	switch opts.Format {
	case exportGIF:
		err = writeGIF(dst, p, opts.Every, fp.update)
	case exportMP4:
		err = writeMP4(ctx, dst, path, p, opts.Every, fp.update)
	default:
		err = fmt.Errorf("export format %q", opts.Format)
	}
	fp.Done()
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		if path != "-" && !errors.Is(err, errFFmpegMissing) {
			os.Remove(path)
		}
		return fmt.Errorf("export session %s as %s: %w", s.ID, opts.Format, err)
	}
	if path != "-" {
		if st, serr := os.Stat(path); serr == nil {
			fmt.Fprintf(opts.IO.ErrOut, "wrote %s (%d bytes)\n", path, st.Size())
		}
	}
	return nil
}

// isDesktopFormat reports whether an export format exists only for
// desktop (deskproto) recordings.
func isDesktopFormat(f string) bool {
	return f == exportGIF || f == exportMP4 || f == exportDeskproto
}

// checkDeskprotoExport refuses --format deskproto for another recording
// format.
func checkDeskprotoExport(s api.Session, format api.RecordingFormat) error {
	if format != api.FormatDeskproto {
		return fmt.Errorf("session %s is a %s session with a %s recording: --format deskproto exists only for desktop sessions (vnc, rdp); use --format native", s.ID, s.Type, format)
	}
	return nil
}
