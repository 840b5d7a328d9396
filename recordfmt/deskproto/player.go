package deskproto

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Keyframe locates a keyframe event in a recording.
type Keyframe struct {
	T      time.Duration // its time
	Offset int64         // byte offset of the event in the file
}

// Player renders a recording at any time. It reads the file once to index
// its keyframes (skipping every body), then decodes only from the last
// keyframe at or before the time asked for. It is not safe for concurrent
// use.
type Player struct {
	ra      io.ReaderAt
	size    int64
	hdr     Header
	hdrEnd  int64
	keys    []Keyframe
	dur     time.Duration
	ended   bool
	cut     error // why the index stopped early (truncated or malformed), nil at a clean end
	events  int
	dec     *Decoder
	rend    *Renderer
	pending *Event        // decoded, not yet applied (later than the last seek)
	done    bool          // the decoder reached the end
	at      time.Duration // the time of the last seek
	stats   SeekStats
}

// SeekStats describes the work of the last SeekTo.
type SeekStats struct {
	From      time.Duration // time of the keyframe decoding started from (0: the start)
	Keyframes int           // keyframe events decoded
	Events    int           // events decoded in all
}

// NewPlayer indexes the recording of size bytes that r holds.
func NewPlayer(r io.ReaderAt, size int64) (*Player, error) {
	p := &Player{ra: r, size: size}
	d, err := NewDecoder(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	p.hdr, p.hdrEnd = d.Header(), d.Offset()
	for {
		typ, t, off, err := d.skip()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.cut = err
			break
		}
		p.events++
		p.dur = t
		if typ == EventKeyframe {
			p.keys = append(p.keys, Keyframe{T: t, Offset: off})
		}
	}
	p.ended = d.Ended()
	return p, nil
}

// Header returns the recording's header.
func (p *Player) Header() Header { return p.hdr }

// Duration returns the time of the last event.
func (p *Player) Duration() time.Duration { return p.dur }

// Keyframes returns the index of keyframes.
func (p *Player) Keyframes() []Keyframe { return p.keys }

// Events returns the number of events indexed.
func (p *Player) Events() int { return p.events }

// Complete reports whether the recording ends with its End event. When it
// does not, Cut says why indexing stopped early (nil: the recording simply
// stops between events, as a session cut short does).
func (p *Player) Complete() bool { return p.ended }

// Cut returns the error that stopped indexing before the end of the file
// (a truncated or malformed event), or nil. Frames before it render.
func (p *Player) Cut() error { return p.cut }

// Stats returns the work done by the last SeekTo.
func (p *Player) Stats() SeekStats { return p.stats }

// SeekTo renders the screen as it was at time t (after every event at or
// before t). Going forward without a keyframe in between continues from
// the current state; otherwise decoding restarts at the last keyframe at
// or before t. A malformed event after the point where the index stopped
// is not an error: the frame is the last one that could be rendered.
func (p *Player) SeekTo(t time.Duration) error {
	p.stats = SeekStats{From: -1}
	i := sort.Search(len(p.keys), func(i int) bool { return p.keys[i].T > t }) - 1
	cont := p.dec != nil && t >= p.at && (i < 0 || p.keys[i].T <= p.at)
	if !cont {
		p.pending, p.done = nil, false
		p.rend = NewRenderer(p.hdr)
		if i >= 0 {
			k := p.keys[i]
			p.dec = newDecoderAt(io.NewSectionReader(p.ra, k.Offset, p.size-k.Offset), p.hdr, k.Offset)
			p.stats.From = k.T
		} else {
			p.dec = newDecoderAt(io.NewSectionReader(p.ra, p.hdrEnd, p.size-p.hdrEnd), p.hdr, p.hdrEnd)
			p.dec.midKey = false
			p.dec.screen = image.Rect(0, 0, p.hdr.Width, p.hdr.Height)
			p.stats.From = 0
		}
	}
	p.at = t
	for !p.done {
		if p.pending != nil {
			if p.pending.T > t {
				return nil
			}
			if err := p.apply(p.pending); err != nil {
				return err
			}
			p.pending = nil
		}
		ev, err := p.dec.Next()
		if err != nil {
			if err == io.EOF || p.cut != nil && (errors.Is(err, ErrTruncated) || errors.Is(err, ErrMalformed)) {
				p.done = true // the recording ends here: the frame is the last one
				return nil
			}
			return err
		}
		p.stats.Events++
		if ev.Type == EventKeyframe {
			p.stats.Keyframes++
		}
		p.pending = &ev
	}
	return nil
}

func (p *Player) apply(ev *Event) error {
	if err := p.rend.Apply(ev); err != nil {
		return fmt.Errorf("deskproto: %s event at %v: %w", ev.Type, ev.T, err)
	}
	return nil
}

// Renderer returns the player's renderer (its state after the last SeekTo).
func (p *Player) Renderer() *Renderer {
	if p.rend == nil {
		p.rend = NewRenderer(p.hdr)
	}
	return p.rend
}

// Frame returns the screen at time t. The image is the player's own and
// changes with the next seek: copy it to keep it.
func (p *Player) Frame(t time.Duration) (*image.RGBA, error) {
	if err := p.SeekTo(t); err != nil {
		return nil, err
	}
	return p.rend.Image(), nil
}

// ExportPNG writes the screen at time t as a PNG image (the framebuffer,
// without the pointer drawn on it, as a screenshot of the desktop shows).
func (p *Player) ExportPNG(t time.Duration, w io.Writer) error {
	img, err := p.Frame(t)
	if err != nil {
		return err
	}
	if img.Bounds().Empty() {
		return fmt.Errorf("deskproto: no screen at %v", t)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(w, img); err != nil {
		return fmt.Errorf("deskproto: encode png: %w", err)
	}
	return nil
}

// ExportFrames writes the screen every interval from 0 to the end of the
// recording as dir/frame-NNNNNN.png (NNNNNN counting from 0) and returns
// the files' paths. Times before the first screen size are skipped.
func (p *Player) ExportFrames(every time.Duration, dir string) ([]string, error) {
	if every <= 0 {
		return nil, fmt.Errorf("deskproto: frame interval %v must be positive", every)
	}
	var paths []string
	i, t := 0, time.Duration(0)
	for ; ; i, t = i+1, t+every {
		if t > p.dur {
			// The end of the recording is always a frame, so a recording
			// shorter than the interval still gives its last screen.
			if t-every == p.dur {
				break
			}
			t = p.dur
		}
		img, err := p.Frame(t)
		if err != nil {
			return paths, err
		}
		if !img.Bounds().Empty() {
			path := filepath.Join(dir, fmt.Sprintf("frame-%06d.png", i))
			if err := writePNG(path, img); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
		if t == p.dur {
			break
		}
	}
	return paths, nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("deskproto: %w", err)
	}
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("deskproto: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("deskproto: write %s: %w", path, err)
	}
	return nil
}
