package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/onepam/onepam/pkg/cli/iostreams"
)

// localURL is the address a browser opens for a local listener: a
// wildcard listen address is opened as 127.0.0.1.
func localURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// browserCommand returns the command that opens url in the person's
// browser: the first command of $BROWSER (a colon-separated list, as
// other tools read it; "%s" in it stands for the URL, otherwise the URL is
// its last argument), else the system's opener: xdg-open, open on macOS,
// the URL handler on Windows.
func browserCommand(url, browserEnv, goos string) []string {
	for _, entry := range strings.Split(browserEnv, ":") {
		args := strings.Fields(entry)
		if len(args) == 0 {
			continue
		}
		placed := false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i], placed = strings.ReplaceAll(a, "%s", url), true
			}
		}
		if !placed {
			args = append(args, url)
		}
		return args
	}
	switch goos {
	case "darwin":
		return []string{"open", url}
	case "windows":
		return []string{"rundll32", "url.dll,FileProtocolHandler", url}
	default:
		return []string{"xdg-open", url}
	}
}

// openBrowser starts the browser on url without waiting for it (it is
// reaped in the background). A browser that cannot start is reported on
// standard error: the local port works without it.
func openBrowser(io *iostreams.IOStreams, url string) {
	args := browserCommand(url, os.Getenv("BROWSER"), runtime.GOOS)
	cmd := exec.Command(args[0], args[1:]...)
	if f, ok := io.ErrOut.(*os.File); ok {
		// What the opener says goes to the terminal; nothing copies it.
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(io.ErrOut, "could not open a browser (%v); browse %s\n", err, url)
		return
	}
	fmt.Fprintf(io.ErrOut, "opening %s in the browser\n", url)
	go func() { _ = cmd.Wait() }()
}
