package auth

import (
	"context"

	"github.com/onepam/onepam/pkg/api"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	User    string
	Role    api.Role
	TokenID string // the API token used; "" for internal callers
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal stored by Middleware.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
