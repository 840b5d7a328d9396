package api

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/asciicast"
	"github.com/onepam/onepam/recordfmt/container"
	"github.com/onepam/onepam/recordfmt/har"
)

// nativeExporter writes the native file of a recording (asciicast v2,
// one HAR document, the JSON lines of connlog and querylog, deskproto as
// it is) from what is stored, which may be:
//   - a recording container (recordfmt/container, magic "OPREC"), whose
//     frames are decoded first;
//   - the format's stored form (asciicast "OPCAST", HAR JSON lines), which
//     is converted with the format package's Export;
//   - already the native form, which is copied.
type nativeExporter struct {
	format api.RecordingFormat
	src    io.ReadCloser
	inner  *bufio.Reader // the inner stream, container unwrapped
}

// newNativeExporter checks the start of a stored recording. Errors mean
// the stored bytes are not a recording of the format (nothing written yet).
func newNativeExporter(format api.RecordingFormat, src io.ReadCloser) (*nativeExporter, error) {
	e := &nativeExporter{format: format, src: src, inner: bufio.NewReaderSize(src, 64<<10)}
	head, _ := e.inner.Peek(len(container.Magic))
	if string(head) == container.Magic {
		ra, size, err := readerAt(src)
		if err != nil {
			return nil, err
		}
		rd, err := container.Open(ra, size)
		if err != nil {
			return nil, fmt.Errorf("open the recording container: %w", err)
		}
		e.inner = bufio.NewReaderSize(rd.StreamFrom(0), 64<<10)
	}
	return e, nil
}

// readerAt gives random access to a stored recording (a local file).
func readerAt(src io.Reader) (io.ReaderAt, int64, error) {
	f, ok := src.(*os.File)
	if !ok {
		return nil, 0, fmt.Errorf("recording container needs random access, the store gave a %T", src)
	}
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("stat the recording: %w", err)
	}
	return f, st.Size(), nil
}

// contentType is the media type of the native file.
func (e *nativeExporter) contentType() string {
	if e.format == api.FormatDeskproto {
		return "application/octet-stream"
	}
	return recordingContentType(e.format)
}

// WriteTo writes the native file to dst.
func (e *nativeExporter) WriteTo(dst io.Writer) (int64, error) {
	cw := &countingWriter{w: dst}
	head, _ := e.inner.Peek(16)
	var err error
	switch {
	case e.format == api.FormatAsciicast && bytes.HasPrefix(head, []byte(asciicast.Magic)):
		err = asciicast.Export(cw, e.inner)
	case e.format == api.FormatHAR && bytes.Contains(head, []byte(`"_onepam_har"`)):
		err = har.Export(cw, e.inner)
	default:
		_, err = io.Copy(cw, e.inner)
	}
	return cw.n, err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
