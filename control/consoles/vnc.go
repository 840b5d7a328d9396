package consoles

import (
	"context"
	"net/http"

	"github.com/coder/websocket"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// vnc relays a browser's RFB bytes (noVNC) to the session's lead data
// connection and back, without interpreting them: the agent's VNC proxy is
// the RFB server and records the desktop.
func (c *Consoles) vnc(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	ws, ok := c.accept(w, r, "binary")
	if !ok {
		return
	}
	id := r.PathValue("id")
	log := c.cfg.Logger.With("session_id", id, "user", p.User)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	actx, acancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	_, err := c.ownSession(actx, p, id, api.TypeVNC)
	if err == nil {
		a, aerr := c.cfg.Sessions.Attach(actx, p, id, api.ChannelData, r.RemoteAddr)
		acancel()
		if aerr == nil {
			log.Info("web VNC viewer open")
			// The WebSocket is the person's connection: its binary messages
			// are the RFB stream. Serve returns when either side ends.
			a.Serve(websocket.NetConn(ctx, ws, websocket.MessageBinary), nil)
			log.Info("web VNC viewer ended")
			return
		}
		err = aerr
	}
	acancel()
	log.Info("web VNC viewer not opened", "err", err)
	_ = ws.Close(closeCode(err), closeReason(err.Error()))
}
