// Package ssh is the agent's SSH proxy.
//
// Every conn stream of an SSH session carries the person's SSH client
// (OpenSSH through `onepam proxy ssh`, or the onepam CLI). The stream was
// authenticated and authorised by control, so the proxy runs an SSH server
// on it (golang.org/x/crypto/ssh) that accepts any client authentication
// and ignores the user name the client sends: the session's login
// (api.SessionOpen.Login, checked by control against policy) decides who
// the person is on the target.
//
// Behind that server the proxy has one SSH client connection to the target
// per session, opened and authenticated by Proxy.Open with credentials that
// live only in agent.yaml (TargetConfig), after verifying the target's host
// key. Session channels (pty, shell, exec, env, window changes, signals,
// exit status) are passed through; `subsystem sftp` is answered by a
// pkg/sftp request server that forwards each request to the target's SFTP
// server and reports one api.FileEvent per operation; legacy scp execs are
// passed through and parsed to report uploads and downloads. Local port
// forwarding is refused unless the resource allows it; agent and X11
// forwarding are always refused.
//
// A built-in target (TargetConfig.Builtin) needs no sshd: the agent serves
// the host's own login shell through a PTY as a configured OS user, and
// SFTP from the host's filesystem, with the same file events.
//
// The terminal is recorded in asciicast (recordfmt/asciicast): output of
// every channel, every keystroke as input, window changes as resizes.
package ssh
