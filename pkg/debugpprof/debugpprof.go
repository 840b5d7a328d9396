// Package debugpprof starts an opt-in net/http/pprof listener for
// profiling a running control server or agent.
//
// It is off unless the environment variable ONEPAM_PPROF holds a listen
// address (for example 127.0.0.1:6060, or 127.0.0.1:0 for any free port).
// The listener serves only the /debug/pprof/ handlers, on its own mux, and
// its address is logged ("pprof listening") and written to the file named
// by ONEPAM_PPROF_ADDR_FILE when that is set, so a benchmark can find the
// port of each process. Bind it to loopback: pprof exposes memory contents.
package debugpprof

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// Env is the environment variable holding the listen address.
const Env = "ONEPAM_PPROF"

// AddrFileEnv names a file the chosen address is appended to, one line
// "<program> <pid> <address>" per process.
const AddrFileEnv = "ONEPAM_PPROF_ADDR_FILE"

// Start starts the listener when ONEPAM_PPROF is set and returns a
// function that stops it (a no-op when it is not set). program names the
// process in the log line and the address file.
func Start(program string, logger *slog.Logger) (stop func(), err error) {
	addr := os.Getenv(Env)
	if addr == "" {
		return func() {}, nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return func() {}, fmt.Errorf("%s=%s: %w", Env, addr, err)
	}
	if f := os.Getenv(AddrFileEnv); f != "" {
		if err := appendLine(f, fmt.Sprintf("%s %d %s\n", program, os.Getpid(), ln.Addr())); err != nil {
			ln.Close()
			return func() {}, fmt.Errorf("%s: %w", AddrFileEnv, err)
		}
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	logger.Info("pprof listening", "addr", ln.Addr().String(), "program", program)
	return func() { srv.Close() }, nil
}

// Handler returns the mux of the /debug/pprof/ handlers.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
