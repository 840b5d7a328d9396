package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
)

// rdp connect --launch starts the person's RDP client on the local
// listener as the connect's command: the session ends when the client
// exits, and onepam exits with its status. The person needs no
// credentials: the agent logs in with the resource's.

// launchClient sets opts.Command to the RDP client for this system,
// pointed at addr, and returns what removes the files it wrote.
func launchClient(opts *ConnectOptions, addr string) (cleanup func(), err error) {
	return launchClientFor(opts, addr, runtime.GOOS)
}

// launchClientFor is launchClient on system goos.
func launchClientFor(opts *ConnectOptions, addr, goos string) (cleanup func(), err error) {
	cleanup = func() {}
	if len(opts.Command) > 0 {
		return cleanup, cmdutil.FlagErrorf("--launch starts the RDP client itself: give either --launch or -- COMMAND")
	}
	var rdpFile string
	if usesRDPFile(goos) {
		dir, err := os.MkdirTemp("", "onepam-rdp-")
		if err != nil {
			return cleanup, fmt.Errorf("--launch: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		rdpFile = filepath.Join(dir, "onepam.rdp")
		if err := os.WriteFile(rdpFile, []byte(rdpFileContent(addr)), 0o600); err != nil {
			cleanup()
			return func() {}, fmt.Errorf("--launch: %w", err)
		}
	}
	opts.Command = launchCommand(goos, addr, rdpFile)
	return cleanup, nil
}

// usesRDPFile reports systems whose RDP client opens .rdp files
// (Windows' mstsc, Microsoft's Remote Desktop app on macOS).
func usesRDPFile(goos string) bool { return goos == "windows" || goos == "darwin" }

// launchCommand is the RDP client command: mstsc with the .rdp file on
// Windows, open -W (wait until the app quits) on macOS, xfreerdp
// elsewhere (its window's title names the gateway, any user name and
// password: the agent replaces them).
func launchCommand(goos, addr, rdpFile string) []string {
	switch goos {
	case "windows":
		return []string{"mstsc", rdpFile}
	case "darwin":
		return []string{"open", "-W", rdpFile}
	}
	return []string{"xfreerdp", "/v:" + addr, "/cert:ignore", "/u:onepam", "/p:onepam", "/t:onepam " + addr}
}

// rdpFileContent is an .rdp file for addr: TLS without NLA towards the
// gateway (it authenticated the person), the certificate warning
// accepted (the gateway's certificate is its own), no prompt for
// credentials.
func rdpFileContent(addr string) string {
	lines := []string{
		"full address:s:" + addr,
		"username:s:onepam",
		"authentication level:i:0",
		"enablecredsspsupport:i:0",
		"prompt for credentials:i:0",
		"promptcredentialonce:i:0",
		"negotiate security layer:i:1",
		"use multimon:i:0",
		"screen mode id:i:1",
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}
