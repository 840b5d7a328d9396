package httpproxy

import (
	"fmt"
	"html"
)

// errorPage is the 502 page shown to the person when the upstream fails.
func errorPage(upstream string, err error) []byte {
	return fmt.Appendf(nil, `<!doctype html>
<html><head><meta charset="utf-8"><title>502 Bad Gateway</title></head>
<body><h1>502 Bad Gateway</h1>
<p>The onepam agent could not get an answer from the application at <code>%s</code>.</p>
<pre>%s</pre>
</body></html>
`, html.EscapeString(upstream), html.EscapeString(err.Error()))
}
