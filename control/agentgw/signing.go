package agentgw

import (
	"context"
	"encoding/base64"
	"log/slog"
	"time"
)

// signingKeyStore keeps agents' recording signing keys (the SQLite store
// implements it; a store that does not keeps none, and control then
// cannot verify signatures).
type signingKeyStore interface {
	AddAgentSigningKey(ctx context.Context, agentID string, key []byte, at time.Time) error
}

// noteSigningKey stores the recording signing key of an agent's hello
// (api.AgentHello.SigningKey, base64 of 32 bytes).
func (g *Gateway) noteSigningKey(ctx context.Context, log *slog.Logger, agentID, b64 string, at time.Time) {
	if b64 == "" {
		return
	}
	ks, ok := g.cfg.Store.(signingKeyStore)
	if !ok {
		return
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != 32 {
		log.Warn("agent announced a malformed recording signing key; its recordings will not verify", "len", len(key), "err", err)
		return
	}
	if err := ks.AddAgentSigningKey(ctx, agentID, key, at); err != nil {
		log.Error("store agent signing key", "err", err)
	}
}
