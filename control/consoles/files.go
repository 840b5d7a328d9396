package consoles

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/pkg/sftp"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// UploadedFile is one file of an upload answer.
type UploadedFile struct {
	Path  string `json:"path"`  // where it was written on the target
	Bytes int64  `json:"bytes"` // its size
}

// UploadResult is the answer to POST /v1/sessions/{id}/terminal/files.
type UploadResult struct {
	Files []UploadedFile `json:"files"`
}

// openTerminalOf returns the open web terminal of session id, owned by p.
func (c *Consoles) openTerminalOf(p auth.Principal, id string) (*terminal, error) {
	c.mu.Lock()
	t := c.terminals[id]
	c.mu.Unlock()
	switch {
	case t == nil:
		return nil, api.Errorf(api.CodeConflict, "session %s has no open web terminal: files travel over the terminal's connection, open it first", id)
	case t.user != p.User:
		return nil, api.Errorf(api.CodeForbidden, "session %s belongs to user %q: only its owner can use it", id, t.user)
	}
	return t, nil
}

// safeBase returns the base name of an uploaded file's name (browsers send
// a base name; anything naming a directory is refused).
func safeBase(name string) (string, error) {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "" || name == "." || name == ".." || name == "/" || strings.ContainsRune(name, 0) {
		return "", api.Errorf(api.CodeInvalid, "file name %q: want a plain file name", name)
	}
	return name, nil
}

// upload writes each file part of a multipart body into ?dir= on the
// target over SFTP.
func (c *Consoles) upload(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := c.openTerminalOf(p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, c.cfg.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, api.Errorf(api.CodeInvalid, "want a multipart/form-data body with file parts: %v", err))
		return
	}
	sc, err := t.sftpClient()
	if err != nil {
		writeError(w, r, api.Errorf(api.CodeTargetFailed, "%v", err))
		return
	}
	dir := r.URL.Query().Get("dir")
	if dir == "" {
		if dir, err = sc.Getwd(); err != nil {
			writeError(w, r, api.Errorf(api.CodeTargetFailed, "the target's working directory: %v", err))
			return
		}
	}
	res := UploadResult{Files: []UploadedFile{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, r, api.Errorf(api.CodeInvalid, "read the upload: %v", err))
			return
		}
		if part.FileName() == "" {
			part.Close()
			continue
		}
		name, err := safeBase(part.FileName())
		if err != nil {
			writeError(w, r, err)
			return
		}
		dst := path.Join(dir, name)
		n, err := c.put(sc, dst, part)
		part.Close()
		if err != nil {
			writeError(w, r, err)
			return
		}
		res.Files = append(res.Files, UploadedFile{Path: dst, Bytes: n})
		c.cfg.Logger.Info("web terminal upload", "session_id", r.PathValue("id"), "path", dst, "bytes", n)
	}
	if len(res.Files) == 0 {
		writeError(w, r, api.Errorf(api.CodeInvalid, "the upload holds no file part"))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// put writes src to dst on the target.
func (c *Consoles) put(sc *sftp.Client, dst string, src io.Reader) (int64, error) {
	f, err := sc.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, targetFileError("create", dst, err)
	}
	n, err := f.ReadFrom(src)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return n, api.Errorf(api.CodeInvalid, "upload larger than %d bytes", mbe.Limit)
		}
		return n, targetFileError("write", dst, err)
	}
	return n, nil
}

// download streams ?path= from the target over SFTP.
func (c *Consoles) download(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	t, err := c.openTerminalOf(p, r.PathValue("id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := r.URL.Query().Get("path")
	if name == "" {
		writeError(w, r, api.Errorf(api.CodeInvalid, "path: give the file to download (?path=/etc/hostname)"))
		return
	}
	sc, err := t.sftpClient()
	if err != nil {
		writeError(w, r, api.Errorf(api.CodeTargetFailed, "%v", err))
		return
	}
	f, err := sc.Open(name)
	if err != nil {
		writeError(w, r, targetFileError("open", name, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeError(w, r, targetFileError("stat", name, err))
		return
	}
	if st.IsDir() {
		writeError(w, r, api.Errorf(api.CodeInvalid, "%s is a directory: give a file", name))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(name)}))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	n, err := f.WriteTo(w)
	c.cfg.Logger.Info("web terminal download", "session_id", r.PathValue("id"), "path", name, "bytes", n, "err", err)
}

// targetFileError maps an SFTP error to an API error.
func targetFileError(op, name string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return api.Errorf(api.CodeNotFound, "%s %s: no such file on the target", op, name)
	case errors.Is(err, fs.ErrPermission):
		return api.Errorf(api.CodeForbidden, "%s %s: permission denied on the target", op, name)
	}
	return api.Errorf(api.CodeTargetFailed, "%s %s: %v", op, name, err)
}
