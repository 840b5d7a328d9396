package sessions

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// upgradeResponse is written once the agent accepted the connection.
const upgradeResponse = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + api.UpgradeProtocol + "\r\n\r\n"

// CheckUpgrade returns nil when r asks for the session upgrade
// ("Connection: Upgrade", "Upgrade: onepam-session/1") over HTTP/1.1, and
// an invalid-request error saying what is missing otherwise.
func CheckUpgrade(r *http.Request) error {
	if r.ProtoMajor != 1 {
		return api.Errorf(api.CodeInvalid, "session connections need HTTP/1.1, got %s", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return api.Errorf(api.CodeInvalid, "missing header Connection: Upgrade (session connections are HTTP upgrades to %s)", api.UpgradeProtocol)
	}
	if !headerHasToken(r.Header, "Upgrade", strings.ToLower(api.UpgradeProtocol)) {
		return api.Errorf(api.CodeInvalid, "want header Upgrade: %s, got %q", api.UpgradeProtocol, r.Header.Get("Upgrade"))
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Upgrade answers the person with 101 Switching Protocols on w, takes the
// connection over and serves the attachment until it ends. Bytes the
// person sent after the request that the HTTP server already buffered are
// forwarded, not lost. When the connection cannot be taken over the
// attachment is aborted and the error returned (the response was not
// written).
func (a *Attachment) Upgrade(w http.ResponseWriter) error {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		a.Abort("the person's connection could not be upgraded: " + err.Error())
		return fmt.Errorf("hijack connection: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if _, err = brw.WriteString(upgradeResponse); err == nil {
		err = brw.Flush()
	}
	if err != nil {
		a.Abort("the person's connection broke during the upgrade: " + err.Error())
		_ = conn.Close()
		return fmt.Errorf("write upgrade response: %w", err)
	}
	var buffered []byte
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n)
		buffered = bytes.Clone(p)
	}
	a.Serve(conn, buffered)
	return nil
}
