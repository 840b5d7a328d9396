package recordings

import (
	"io"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
	"github.com/onepam/onepam/recordfmt/har"
)

// Every reader of recordings goes through the two functions below, so the
// stored layout can change in one place:
//
//	stored bytes (what the agent uploaded: Store.Open, live chunks)
//	  → Inner → the format's own stored form (compact terminal log,
//	            connlog/querylog JSON lines, HAR entry lines, deskproto)
//	  → Export → the native file people use (.cast, .jsonl, .har, .dpr)

// Inner returns the inner-format stream of a recording from its stored
// bytes: the frames of a recording container decoded as they are read (a
// live stream works: frames are decoded as they arrive, re-sent frames
// give only their new bytes), a legacy raw recording as it is.
func Inner(stored io.Reader) io.Reader { return peekInner(stored) }

// NativeExt is the file extension of a format's native export.
func NativeExt(f api.RecordingFormat) string {
	switch f {
	case api.FormatAsciicast:
		return ".cast"
	case api.FormatHAR:
		return ".har"
	case api.FormatDeskproto:
		return ".dpr"
	default:
		return ".jsonl"
	}
}

// Export writes the native file of a recording whose inner stream is
// inner: exact asciicast v2 for terminals, one HAR 1.2 document for web
// sessions; the JSON-lines logs and deskproto are their own native form.
func Export(f api.RecordingFormat, dst io.Writer, inner io.Reader) error {
	switch f {
	case api.FormatAsciicast:
		return asciicast.Export(dst, inner)
	case api.FormatHAR:
		return har.Export(dst, inner)
	default:
		_, err := io.Copy(dst, inner)
		return err
	}
}
