package web

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// dist holds the built console (dist/index.html, dist/assets/…), or only
// dist/README.txt in a tree where ./scripts/web-build never ran.
//
//go:embed all:dist
var dist embed.FS

// assets is the built console, read once from dist.
type assets struct {
	index []byte    // dist/index.html; nil when the console is not built
	files fs.FS     // dist/assets
	built bool      // index.html is present
	types mimeTypes // extension → media type
}

type mimeTypes map[string]string

func loadAssets() *assets { return newAssets(dist, "dist") }

func newAssets(fsys fs.FS, root string) *assets {
	a := &assets{types: mimeTypes{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json"}}
	sub, err := fs.Sub(fsys, root)
	if err != nil {
		return a
	}
	if b, err := fs.ReadFile(sub, "index.html"); err == nil {
		a.index, a.built = b, true
	}
	if files, err := fs.Sub(sub, "assets"); err == nil {
		a.files = files
	}
	return a
}

// notBuiltPage answers console pages of a binary built without the assets.
const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OnePAM console not built</title></head>
<body style="font-family: system-ui, sans-serif; margin: 3rem">
<h1>console assets not built: run ./scripts/web-build</h1>
<p>This control server was built without the web console. Build the console's
assets (<code>./scripts/web-build</code>, which needs Node.js and npm), then
rebuild or re-run the server (<code>./scripts/dev</code> does both). The API
under <code>/v1/</code> works either way.</p>
</body></html>
`

// page serves index.html for every console route.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	if !h.assets.built {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(notBuiltPage))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(h.assets.index)
}

// asset serves a file of dist/assets. Their names carry a content hash, so
// they are cached for a year.
func (h *handler) asset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/assets/")
	if h.assets.files == nil || name == "" || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.assets.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := h.assets.types[path.Ext(name)]
	if ct == "" {
		ct = mime.TypeByExtension(path.Ext(name))
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(b)
}
