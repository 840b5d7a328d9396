package ssh

import (
	"errors"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/onepam/onepam/pkg/api"
)

// fileSystem is what SFTP requests are carried out on: the target's SFTP
// server (remoteFS) or the agent host's own filesystem (localFS). Paths
// are absolute.
type fileSystem interface {
	OpenFile(path string, flag int) (sftpFile, error)
	Stat(path string) (os.FileInfo, error)
	Lstat(path string) (os.FileInfo, error)
	ReadDir(path string) ([]os.FileInfo, error)
	ReadLink(path string) (string, error)
	RealPath(path string) (string, error)
	// Getwd is where relative paths start (the login's home).
	Getwd() (string, error)
	Remove(path string) error
	Rmdir(path string) error
	Mkdir(path string) error
	Rename(from, to string) error
	PosixRename(from, to string) error
	Symlink(target, link string) error
	Link(from, to string) error
	Setstat(path string, flags sftp.FileAttrFlags, st *sftp.FileStat) error
	Close() error
}

// sftpFile is an open file of a fileSystem.
type sftpFile interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
}

// startSFTP answers `subsystem sftp` with a request server facing the
// person whose handlers carry each request out on the target's file
// system and report it.
func (c *channel) startSFTP(req *gossh.Request) {
	reply := func(ok bool) {
		if req.WantReply {
			req.Reply(ok, nil)
		}
	}
	if !c.claim(false) {
		reply(false)
		return
	}
	fs, err := c.ts.sftp()
	if err != nil {
		c.log.Warn("sftp refused", "err", err)
		c.unclaim()
		reply(false)
		return
	}
	reply(true)
	c.log.Info("sftp started")
	go func() {
		defer close(c.done)
		defer fs.Close()
		wd, err := fs.Getwd()
		if err != nil || wd == "" {
			wd = "/"
		}
		h := &sftpHandlers{fs: fs, report: c.s.report, wd: wd}
		srv := sftp.NewRequestServer(c.ch, h.handlers(), sftp.WithStartDirectory(wd))
		err = srv.Serve()
		if err != nil && !errors.Is(err, io.EOF) {
			c.log.Debug("sftp ended", "err", err)
		}
		c.ch.SendRequest("exit-status", false, gossh.Marshal(exitStatus{Status: 0}))
		srv.Close()
	}()
}

// sftpHandlers are the request server's handlers: every operation goes to
// fs and is reported as one api.FileEvent.
type sftpHandlers struct {
	fs     fileSystem
	report func(api.FileEvent)
	wd     string // where relative paths start
}

func (h *sftpHandlers) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

func (h *sftpHandlers) event(op, path, path2 string, n int64, err error) {
	ev := api.FileEvent{Protocol: "sftp", Op: op, Path: path, Path2: path2, Bytes: n, Result: "ok"}
	if err != nil {
		ev.Result, ev.Error = "error", err.Error()
	}
	h.report(ev)
}

// Fileread opens a file for download.
func (h *sftpHandlers) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	f, err := h.fs.OpenFile(r.Filepath, os.O_RDONLY)
	if err != nil {
		h.event(api.FileOpDownload, r.Filepath, "", 0, err)
		return nil, sftpError(err)
	}
	return &auditedFile{h: h, f: f, path: r.Filepath}, nil
}

// Filewrite opens a file for upload.
func (h *sftpHandlers) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	f, err := h.fs.OpenFile(r.Filepath, openFlags(r.Pflags()))
	if err != nil {
		h.event(api.FileOpUpload, r.Filepath, "", 0, err)
		return nil, sftpError(err)
	}
	return &auditedFile{h: h, f: f, path: r.Filepath}, nil
}

// OpenFile opens a file for reading and writing.
func (h *sftpHandlers) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	f, err := h.fs.OpenFile(r.Filepath, openFlags(r.Pflags()))
	if err != nil {
		h.event(api.FileOpUpload, r.Filepath, "", 0, err)
		return nil, sftpError(err)
	}
	return &auditedFile{h: h, f: f, path: r.Filepath}, nil
}

func openFlags(p sftp.FileOpenFlags) int {
	var f int
	switch {
	case p.Read && p.Write:
		f = os.O_RDWR
	case p.Write || p.Append:
		f = os.O_WRONLY
	default:
		f = os.O_RDONLY
	}
	if p.Append {
		f |= os.O_APPEND
	}
	if p.Creat {
		f |= os.O_CREATE
	}
	if p.Trunc {
		f |= os.O_TRUNC
	}
	if p.Excl {
		f |= os.O_EXCL
	}
	return f
}

// auditedFile counts the bytes moved through an open file and reports the
// transfer when the person closes it: an upload when anything was written,
// a download otherwise.
type auditedFile struct {
	h             *sftpHandlers
	f             sftpFile
	path          string
	read, written atomic.Int64
	wrote         atomic.Bool
	mu            sync.Mutex
	xferErr       error
	once          sync.Once
}

func (a *auditedFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := a.f.ReadAt(p, off)
	a.read.Add(int64(n))
	if err != nil && !errors.Is(err, io.EOF) {
		return n, sftpError(err)
	}
	return n, err
}

func (a *auditedFile) WriteAt(p []byte, off int64) (int, error) {
	a.wrote.Store(true)
	n, err := a.f.WriteAt(p, off)
	a.written.Add(int64(n))
	if err != nil {
		return n, sftpError(err)
	}
	return n, nil
}

// TransferError is called by the request server when the connection ends
// with the file still open.
func (a *auditedFile) TransferError(err error) {
	a.mu.Lock()
	a.xferErr = err
	a.mu.Unlock()
}

func (a *auditedFile) Close() error {
	err := a.f.Close()
	a.once.Do(func() {
		a.mu.Lock()
		rerr := a.xferErr
		a.mu.Unlock()
		if rerr == nil {
			rerr = err
		}
		if a.wrote.Load() {
			a.h.event(api.FileOpUpload, a.path, "", a.written.Load(), rerr)
		} else {
			a.h.event(api.FileOpDownload, a.path, "", a.read.Load(), rerr)
		}
	})
	return sftpError(err)
}

// Filecmd carries out and reports setstat, rename, rmdir, mkdir, remove,
// symlink and link.
func (h *sftpHandlers) Filecmd(r *sftp.Request) error {
	var err error
	switch r.Method {
	case "Setstat":
		err = h.fs.Setstat(r.Filepath, r.AttrFlags(), r.Attributes())
		h.event(api.FileOpSetstat, r.Filepath, "", 0, err)
	case "Rename":
		err = h.fs.Rename(r.Filepath, r.Target)
		h.event(api.FileOpRename, r.Filepath, r.Target, 0, err)
	case "Rmdir":
		err = h.fs.Rmdir(r.Filepath)
		h.event(api.FileOpRmdir, r.Filepath, "", 0, err)
	case "Mkdir":
		err = h.fs.Mkdir(r.Filepath)
		h.event(api.FileOpMkdir, r.Filepath, "", 0, err)
	case "Remove":
		err = h.fs.Remove(r.Filepath)
		h.event(api.FileOpDelete, r.Filepath, "", 0, err)
	case "Symlink":
		// The request server hands symlink(target, linkpath) as
		// Filepath=target, Target=linkpath.
		err = h.fs.Symlink(r.Filepath, r.Target)
		h.event(api.FileOpSymlink, r.Target, r.Filepath, 0, err)
	case "Link":
		// A hard link is reported as a symlink event (there is no link op).
		err = h.fs.Link(r.Filepath, r.Target)
		h.event(api.FileOpSymlink, r.Target, r.Filepath, 0, err)
	default:
		return sftp.ErrSSHFxOpUnsupported
	}
	return sftpError(err)
}

// PosixRename is posix-rename@openssh.com (replaces the destination).
func (h *sftpHandlers) PosixRename(r *sftp.Request) error {
	err := h.fs.PosixRename(r.Filepath, r.Target)
	h.event(api.FileOpRename, r.Filepath, r.Target, 0, err)
	return sftpError(err)
}

// Filelist lists a directory (reported) or stats a path.
func (h *sftpHandlers) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		fis, err := h.fs.ReadDir(r.Filepath)
		h.event(api.FileOpList, r.Filepath, "", 0, err)
		if err != nil {
			return nil, sftpError(err)
		}
		return listerAt(fis), nil
	case "Stat":
		fi, err := h.fs.Stat(r.Filepath)
		if err != nil {
			return nil, sftpError(err)
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat stats a path without following a final symlink.
func (h *sftpHandlers) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	fi, err := h.fs.Lstat(r.Filepath)
	if err != nil {
		return nil, sftpError(err)
	}
	return listerAt{fi}, nil
}

// RealPath resolves a path on the target (relative to the working
// directory: the request server hands it over as the client sent it).
func (h *sftpHandlers) RealPath(p string) (string, error) {
	if !path.IsAbs(p) {
		p = path.Join(h.wd, p)
	}
	rp, err := h.fs.RealPath(path.Clean(p))
	return rp, sftpError(err)
}

// Readlink reads a symlink on the target.
func (h *sftpHandlers) Readlink(p string) (string, error) {
	t, err := h.fs.ReadLink(p)
	return t, sftpError(err)
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

// fxError carries an SFTP status code and message back to the person.
type fxError struct {
	msg  string
	code error // one of sftp's ErrSSHFx* values
}

func (e *fxError) Error() string { return e.msg }
func (e *fxError) Unwrap() error { return e.code }

// sftpError gives err the SFTP status code the person's client should
// see: the target's own status, or permission denied.
func sftpError(err error) error {
	if err == nil {
		return nil
	}
	var se *sftp.StatusError
	if errors.As(err, &se) {
		return &fxError{msg: statusMessage(se), code: se.FxCode()}
	}
	if errors.Is(err, os.ErrPermission) {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return err // the request server maps errno itself
		}
		return &fxError{msg: "permission denied", code: sftp.ErrSSHFxPermissionDenied}
	}
	return err
}

// statusMessage extracts the server's text from a StatusError, whose
// Error() reads `sftp: "TEXT" (SSH_FX_...)`.
func statusMessage(se *sftp.StatusError) string {
	s := se.Error()
	rest, ok := strings.CutPrefix(s, "sftp: ")
	if !ok {
		return s
	}
	if i := strings.LastIndex(rest, " ("); i > 0 {
		if m, err := strconv.Unquote(rest[:i]); err == nil && m != "" {
			return m
		}
	}
	return s
}
