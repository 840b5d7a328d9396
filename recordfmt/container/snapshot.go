package container

// Growing frames. A recorder that must make its data durable (and visible
// to live watchers) every second but wants large, well-compressed frames
// keeps one frame open and re-encodes it as it grows: Snapshot returns the
// open frame exactly as Flush would write it now, without closing it. The
// spool stores the latest snapshot next to the closed frames and the
// uploader re-sends it at the same offset whenever it grew, so the stored
// file is always a valid container: header, closed frames, and the latest
// version of the open frame, which later versions replace (each version's
// raw bytes start with the previous version's). When the frame reaches the
// frame size (or on Flush, Finish, Close) it is written to the Writer's
// destination for good.
//
// A reader of the concatenated upload stream (Decoder) therefore sees
// frame numbers (and the file header) again: re-sent pieces. Decoder skips
// copies and older versions (a watcher catching up from storage may get
// queued older chunks afterwards) and returns only the bytes a newer
// version of the last frame adds.

// Snapshot returns the open frame encoded as Flush would write it now,
// appended to dst, and the file offset where it goes (the end of the
// closed frames). It returns dst unchanged when no bytes are buffered
// (also after Finish or Close). The Writer's state does not change.
func (w *Writer) Snapshot(dst []byte) (off int64, out []byte, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.off, dst, w.err
	}
	if w.finished || len(w.raw) == 0 {
		return w.off, dst, nil
	}
	h := frameHeader{typ: typeData, num: w.num, tFirst: w.tFirst, tLast: w.tLast, rawLen: uint32(len(w.raw))}
	out, err = w.encodeFrameLocked(dst, &h, w.raw, nil)
	if err != nil {
		return w.off, dst, err
	}
	return w.off, out, nil
}
