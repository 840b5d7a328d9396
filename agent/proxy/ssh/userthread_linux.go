package ssh

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// userThread starts a goroutine locked to its own OS thread whose
// filesystem uid and gid (setfsuid/setfsgid) and supplementary groups are
// u's, and returns run, which executes f on that thread, and stop. The
// credential calls are raw per-thread system calls (syscall.Setgroups and
// friends would change every thread of the agent); the thread is never
// unlocked, so it exits with the goroutine and is not reused.
func userThread(u *osUser) (run func(func()), stop func(), err error) {
	ops := make(chan func())
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		groups := u.groups
		if len(groups) == 0 {
			groups = []uint32{u.gid}
		}
		if _, _, e := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), uintptr(unsafe.Pointer(&groups[0])), 0); e != 0 {
			ready <- fmt.Errorf("setgroups for %s: %w", u.name, e)
			return
		}
		syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(u.gid), 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(u.uid), 0, 0)
		// setfsuid reports the current value when given an invalid id.
		if cur, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, ^uintptr(0), 0, 0); uint32(cur) != u.uid {
			ready <- fmt.Errorf("setfsuid %d for %s did not take", u.uid, u.name)
			return
		}
		ready <- nil
		for f := range ops {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, nil, fmt.Errorf("built-in sftp as %s: %w", u.name, err)
	}
	run = func(f func()) {
		done := make(chan struct{})
		ops <- func() { f(); close(done) }
		<-done
	}
	var closed bool
	stop = func() {
		if !closed {
			closed = true
			close(ops)
		}
	}
	return run, stop, nil
}
