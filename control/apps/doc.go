// Package apps publishes control's HTTP resources to browsers: resource
// NAME is served at https://NAME.<apps domain> on control's own HTTPS
// listener (the apps domain is a control setting, "localhost" by default:
// browsers resolve *.localhost to the loopback address themselves).
//
// Login. A browser without a valid app cookie is sent (302) to the
// console's login page on the control host, https://<apps domain>/login
// ?app=NAME&state=S, with a host-only state cookie on the app host that
// holds S and the path it asked for. Once logged in (API token or user and
// password, the console's own login), the console posts
// /v1/apps/NAME/launch {"state": S} with its cookie and CSRF token and gets
// back https://NAME.<apps domain>/_onepam/callback?code=C: C is random,
// one-time, bound to the app, to S and to the console's web session, and
// lives one minute. The app host exchanges C only when the browser's state
// cookie holds S (so nobody can log a browser in to an account not its
// own), sets the app cookie (host-only, Secure, HttpOnly, SameSite=Lax:
// it goes to this app only) and redirects to the path first asked for. No
// token ever travels in a URL. The app login is tied to the console's web
// session: revoking the token, removing the user or logging out of the
// console ends it on the next request.
//
// Sessions. Each request is checked against the policy (the resource's
// type is http; a denial is a 403 page and a session.denied audit event).
// An app login (one browser's visit) has at most one session at a time:
// the first request creates it (control/sessions Create, then the events
// channel is attached as its lead, as `onepam http connect` does), and
// every request rides a data connection of that session through an
// http.Transport whose DialContext attaches a new one (keep-alive pools
// them; WebSocket upgrades pass through). The agent's HTTP proxy forwards
// to the upstream, sets X-OnePAM-User and records the HAR, exactly as for
// `onepam http connect`. The session ends (completed) after IdleTimeout
// without requests, on /_onepam/logout or when control shuts down; the
// next request then starts a new one. A session killed by an administrator
// ends the app login too: the next request gets a "session terminated"
// page and must log in again, which starts a new session.
//
// Logins and codes are kept in the store (named by the SHA-256 of the
// cookie or code, never the secret itself), so every control node sharing
// the database accepts them and a restart keeps them: a launch code issued
// by one node is exchanged on any node, once (taken from the store
// atomically). Each node keeps the logins it serves in a table with their
// running sessions, and trusts a row it read for a few seconds
// (loginCacheTTL): a logout on another node ends the login here within
// that bound. Expired rows are deleted by the sweeper.
//
// Several control nodes. A session runs on the node the app's agent is
// attached to. A request reaching another node (behind a load balancer)
// is forwarded, once the login and the policy are checked there, to the
// live node holding the agent by control's forwarder (Config.Forward),
// the one the API uses: Host and cookies kept (the login is valid there),
// WebSocket upgrades passed through, so that node runs the login's
// session and records the HAR. A request forwarded already is not
// forwarded again; when it cannot be forwarded the error page names the
// node and says why. A logout through another node deletes the login,
// but the session the holding node runs for it ends at its idle timeout.
package apps
