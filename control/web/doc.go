// Package web is the control server's web console: a single-page
// application (TypeScript, built with esbuild from ui/ into dist/) embedded
// into the binary with go:embed, plus the console's login and logout.
//
// Handler serves, on control's HTTPS port:
//
//	/v1/…, /healthz, /metrics   the API handler (Config.API), unchanged
//	POST /web/login             {"token": "opt_…"} → a web session: cookies
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
// memory: a restart logs browsers out.
//
// The assets are built by ./scripts/web-build (npm ci + node build.mjs in
// ui/). A binary built without them still serves the API and answers
// console pages with "console assets not built: run ./scripts/web-build".
package web
