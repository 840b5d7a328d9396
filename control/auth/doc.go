// Package auth authenticates people and decides what their role lets them
// do.
//
// API tokens are "opt_" followed by the base64url (unpadded) encoding of 32
// random bytes. Only the SHA-256 of the whole token string is stored; the
// secret is shown once, at creation. Tokens expire (30 days by default; a
// negative lifetime means never) and can be revoked; both are checked on
// every request by Middleware, which puts the resulting Principal in the
// request context.
//
// Capabilities lists, in one table, which roles may perform which action,
// and whether a role is limited to its own objects (a user sees only its
// own sessions and tokens).
package auth
