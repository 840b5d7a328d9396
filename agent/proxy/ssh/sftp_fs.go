package ssh

import (
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pkg/sftp"
)

// remoteFS is the target's SFTP server.
type remoteFS struct{ c *sftp.Client }

func (r *remoteFS) OpenFile(p string, flag int) (sftpFile, error) { return r.c.OpenFile(p, flag) }
func (r *remoteFS) Stat(p string) (os.FileInfo, error)            { return r.c.Stat(p) }
func (r *remoteFS) Lstat(p string) (os.FileInfo, error)           { return r.c.Lstat(p) }
func (r *remoteFS) ReadDir(p string) ([]os.FileInfo, error)       { return r.c.ReadDir(p) }
func (r *remoteFS) ReadLink(p string) (string, error)             { return r.c.ReadLink(p) }
func (r *remoteFS) RealPath(p string) (string, error)             { return r.c.RealPath(p) }
func (r *remoteFS) Getwd() (string, error)                        { return r.c.Getwd() }
func (r *remoteFS) Remove(p string) error                         { return r.c.Remove(p) }
func (r *remoteFS) Rmdir(p string) error                          { return r.c.RemoveDirectory(p) }
func (r *remoteFS) Mkdir(p string) error                          { return r.c.Mkdir(p) }
func (r *remoteFS) Rename(from, to string) error                  { return r.c.Rename(from, to) }
func (r *remoteFS) PosixRename(from, to string) error             { return r.c.PosixRename(from, to) }
func (r *remoteFS) Symlink(target, link string) error             { return r.c.Symlink(target, link) }
func (r *remoteFS) Link(from, to string) error                    { return r.c.Link(from, to) }
func (r *remoteFS) Close() error                                  { return r.c.Close() }

func (r *remoteFS) Setstat(p string, f sftp.FileAttrFlags, st *sftp.FileStat) error {
	if f.Size {
		if err := r.c.Truncate(p, int64(st.Size)); err != nil {
			return err
		}
	}
	if f.Permissions {
		if err := r.c.Chmod(p, os.FileMode(st.Mode&0o7777)); err != nil {
			return err
		}
	}
	if f.UidGid {
		if err := r.c.Chown(p, int(st.UID), int(st.GID)); err != nil {
			return err
		}
	}
	if f.Acmodtime {
		return r.c.Chtimes(p, time.Unix(int64(st.Atime), 0), time.Unix(int64(st.Mtime), 0))
	}
	return nil
}

// localFS is the agent host's filesystem, for the built-in target: home
// is the OS user's home directory. When the agent (root) serves another
// user, every call that checks permissions runs on an OS thread whose
// filesystem uid, gid and groups are that user's (see userThread), so the
// person gets exactly that user's access.
type localFS struct {
	home string
	run  func(func()) // runs f with the user's file access
	stop func()
}

func newLocalFS(u *osUser) (*localFS, error) {
	l := &localFS{home: u.home, run: func(f func()) { f() }, stop: func() {}}
	if u.switchUser {
		run, stop, err := userThread(u)
		if err != nil {
			return nil, err
		}
		l.run, l.stop = run, stop
	}
	return l, nil
}

func (l *localFS) OpenFile(p string, flag int) (f sftpFile, err error) {
	l.run(func() { f, err = openFile(p, flag) })
	return f, err
}

func openFile(p string, flag int) (sftpFile, error) {
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (l *localFS) Stat(p string) (fi os.FileInfo, err error) {
	l.run(func() { fi, err = os.Stat(p) })
	return fi, err
}

func (l *localFS) Lstat(p string) (fi os.FileInfo, err error) {
	l.run(func() { fi, err = os.Lstat(p) })
	return fi, err
}

func (l *localFS) ReadDir(p string) (fis []os.FileInfo, err error) {
	l.run(func() {
		var ents []os.DirEntry
		ents, err = os.ReadDir(p)
		for _, e := range ents {
			if fi, ierr := e.Info(); ierr == nil { // skip entries removed meanwhile
				fis = append(fis, fi)
			}
		}
	})
	return fis, err
}

func (l *localFS) ReadLink(p string) (t string, err error) {
	l.run(func() { t, err = os.Readlink(p) })
	return t, err
}

func (l *localFS) RealPath(p string) (rp string, err error) {
	p = filepath.Clean(p)
	l.run(func() { rp, err = filepath.EvalSymlinks(p) })
	if err != nil {
		return p, nil // a path that does not exist (yet) resolves to itself
	}
	return rp, nil
}

func (l *localFS) Getwd() (string, error) { return l.home, nil }

func (l *localFS) Remove(p string) (err error) {
	// unlink only, as sftp-server does: a directory is rmdir's job.
	l.run(func() { err = syscall.Unlink(p) })
	if err != nil {
		return &os.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}

func (l *localFS) Rmdir(p string) (err error) {
	l.run(func() { err = syscall.Rmdir(p) })
	if err != nil {
		return &os.PathError{Op: "rmdir", Path: p, Err: err}
	}
	return nil
}

func (l *localFS) Mkdir(p string) (err error) {
	l.run(func() { err = os.Mkdir(p, 0o755) })
	return err
}

func (l *localFS) Rename(from, to string) (err error) {
	l.run(func() {
		// SFTP v3 rename does not replace an existing file.
		if _, serr := os.Lstat(to); serr == nil {
			err = &os.PathError{Op: "rename", Path: to, Err: syscall.EEXIST}
			return
		}
		err = os.Rename(from, to)
	})
	return err
}

func (l *localFS) PosixRename(from, to string) (err error) {
	l.run(func() { err = os.Rename(from, to) })
	return err
}

func (l *localFS) Symlink(target, link string) (err error) {
	l.run(func() { err = os.Symlink(target, link) })
	return err
}

func (l *localFS) Link(from, to string) (err error) {
	l.run(func() { err = os.Link(from, to) })
	return err
}

func (l *localFS) Close() error { l.stop(); return nil }

func (l *localFS) Setstat(p string, f sftp.FileAttrFlags, st *sftp.FileStat) (err error) {
	l.run(func() { err = setstat(p, f, st) })
	return err
}

func setstat(p string, f sftp.FileAttrFlags, st *sftp.FileStat) error {
	if f.Size {
		if err := os.Truncate(p, int64(st.Size)); err != nil {
			return err
		}
	}
	if f.Permissions {
		if err := os.Chmod(p, os.FileMode(st.Mode&0o777)|modeBits(st.Mode)); err != nil {
			return err
		}
	}
	if f.UidGid {
		if err := os.Chown(p, int(st.UID), int(st.GID)); err != nil {
			return err
		}
	}
	if f.Acmodtime {
		return os.Chtimes(p, time.Unix(int64(st.Atime), 0), time.Unix(int64(st.Mtime), 0))
	}
	return nil
}

// modeBits converts setuid, setgid and sticky from POSIX to os.FileMode.
func modeBits(m uint32) os.FileMode {
	var fm os.FileMode
	if m&syscall.S_ISUID != 0 {
		fm |= os.ModeSetuid
	}
	if m&syscall.S_ISGID != 0 {
		fm |= os.ModeSetgid
	}
	if m&syscall.S_ISVTX != 0 {
		fm |= os.ModeSticky
	}
	return fm
}
