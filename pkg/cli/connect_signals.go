package cli

import (
	"os"
	"os/signal"
	"syscall"
)

// forwardSignals hands SIGTERM and SIGHUP sent to onepam on to the local
// command of `connect -- COMMAND`, which then ends the session by exiting.
// SIGINT is left alone: Ctrl-C reaches the command from the terminal
// itself, and the command decides what it means (psql cancels the running
// statement through the session, which must stay open for that). The
// returned function stops forwarding.
func forwardSignals(p *os.Process) (stop func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				_ = p.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
