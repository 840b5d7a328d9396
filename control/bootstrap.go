package control

import (
	"context"
	"fmt"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// FirstAdmin is the name of the user created on the first start.
const FirstAdmin = "admin"

// bootstrap creates, on the first start (no users), the admin user, its
// non-expiring token and the seed policy rule. It returns the token's
// secret, or "" when the database already had users.
func bootstrap(ctx context.Context, st store.Store, tokens *auth.Tokens, u api.User) (string, error) {
	n, err := st.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	if err := st.CreateUser(ctx, u); err != nil {
		return "", fmt.Errorf("create first admin: %w", err)
	}
	tok, err := tokens.Create(ctx, u.Name, -1, "first admin token")
	if err != nil {
		return "", fmt.Errorf("create first admin token: %w", err)
	}
	rules, err := st.ListPolicyRules(ctx)
	if err != nil {
		return "", fmt.Errorf("read policy: %w", err)
	}
	if len(rules) == 0 {
		seed := api.PolicyRule{
			ID: store.NewID(), Subject: "role:admin", Resources: []string{"*"}, Logins: []string{"*"},
			Description: "seed rule: admins may use every resource with any login", CreatedAt: u.CreatedAt,
		}
		if err := st.AddPolicyRule(ctx, seed); err != nil {
			return "", fmt.Errorf("seed policy: %w", err)
		}
	}
	return tok.Secret, nil
}
