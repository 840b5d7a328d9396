// Package web is the control server's web console: a single-page
// application (TypeScript, built with esbuild from ui/ into dist/) embedded
// into the binary with go:embed, plus the console's login and logout.
//
// Handler serves, on control's HTTPS port:
//
//	/v1/…, /healthz, /metrics   the API handler (Config.API), unchanged
//	POST /web/login             {"token": "opt_…"} or {"user": "…",
//	                            "password": "…"} (set with onepam users
//	                            passwd; the session is tied to the user,
//	                            not a token, and ends after 12 h idle)
//	                            → a web session: cookies
//	                            onepam_session (HttpOnly, Secure,
//	                            SameSite=Strict) and onepam_csrf (Secure,
//	                            SameSite=Strict, readable by the page);
//	                            answers {"user", "role", "csrf_token"}
//	POST /web/logout            ends the web session (needs X-CSRF-Token)
//	GET  /assets/…              the built assets (content-hashed names,
//	                            cached for a year)
//	GET  anything else          index.html (the console routes in the
//	                            browser: /sessions, /sessions/{id}#t=90,
//	                            /resources, /sessions/{id}/terminal,
//	                            /sessions/{id}/desktop, /sessions/{id}/sql,
//	                            /settings/recording-storage)
//
// The web terminal, VNC viewer and database console talk to routes of
// package control/consoles (WebSockets and SQL requests under
// /v1/sessions/{id}/), which control mounts in front of the API: control
// runs the SSH, RFB relay and database clients for the browser over the
// same session path the CLI uses.
//
// The API accepts the session cookie instead of a bearer token (package
// control/auth); every state-changing request made with the cookie must
// send the CSRF token in X-CSRF-Token. Web sessions live in control's
// memory: a restart logs browsers out. Logins are audited (web.login) and
// failed ones counted per client IP: after Config.LoginFailures within
// Config.LoginWindow, that address is answered 429 until the window ends.
//
// Recordings play on the session page: asciicast in asciinema-player,
// deskproto on a canvas (ui/src/deskproto.ts decodes it, seeking from the
// nearest keyframe), the connection log, query log and HAR as tables.
//
// The assets are built by ./scripts/web-build (npm ci + node build.mjs in
// ui/). A binary built without them still serves the API and answers
// console pages with "console assets not built: run ./scripts/web-build".
package web
