package apps

import (
	"html/template"
	"net/http"
)

// pageData fills the page template. Link and Form are paths on the app
// host.
type pageData struct {
	Title, Message   string
	Link, LinkText   string
	Form, FormButton string // a POST form (logout confirmation)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · OnePAM</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}
main{max-width:34rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 .75rem}p{margin:.5rem 0 1.25rem}a,button{font:inherit;color:#fff;background:#2957c4;border:0;border-radius:4px;padding:.45rem 1rem;text-decoration:none;cursor:pointer}
.brand{font-size:.8rem;color:#667;letter-spacing:.05em;text-transform:uppercase}</style></head>
<body><main><div class="brand">OnePAM</div><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Form}}<form method="post" action="{{.Form}}"><button type="submit">{{.FormButton}}</button></form>{{end}}
{{if .Link}}<a href="{{.Link}}">{{.LinkText}}</a>{{end}}
</main></body></html>
`))

// page answers an HTML page of control's own (never the upstream's).
func (a *Apps) page(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		a.cfg.Logger.Warn("write app page", "err", err)
	}
}
