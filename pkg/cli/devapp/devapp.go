// Package devapp is the small web application `onepam dev` publishes as
// resource "demo-web" (https://demo-web.localhost:PORT): a page showing who
// the gateway says you are (the X-OnePAM-User header the agent sets), a
// guest book form (POST), a JSON endpoint and a WebSocket echo, so that
// every kind of exchange shows up in the session's HAR recording.
package devapp

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// maxNotes bounds the guest book (the oldest notes are dropped).
const maxNotes = 50

// App is the demo application. Its zero value is not usable: call New.
type App struct {
	mux   *http.ServeMux
	clock func() time.Time

	mu    sync.Mutex
	notes []Note
}

// Note is one guest book entry.
type Note struct {
	Time time.Time `json:"time"`
	User string    `json:"user"` // from X-OnePAM-User ("" when not behind OnePAM)
	Text string    `json:"text"`
}

// Info is the answer of GET /api/info.
type Info struct {
	User  string    `json:"user"`  // X-OnePAM-User as received
	Time  time.Time `json:"time"`  // the app's clock
	Notes int       `json:"notes"` // guest book entries
}

// New returns the demo application.
func New() *App {
	a := &App{mux: http.NewServeMux(), clock: time.Now}
	a.mux.HandleFunc("GET /{$}", a.index)
	a.mux.HandleFunc("POST /notes", a.addNote)
	a.mux.HandleFunc("GET /api/info", a.info)
	a.mux.HandleFunc("GET /ws", WebSocketEcho(64<<10))
	return a
}

// ServeHTTP serves the application.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>OnePAM demo app</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}code{background:#eef}li{margin:.2rem 0}</style></head>
<body><h1>OnePAM demo app</h1>
<p id="who">Signed in as <strong>{{if .User}}{{.User}}{{else}}nobody (not behind OnePAM){{end}}</strong>.</p>
<h2>Guest book</h2>
<form method="post" action="/notes"><label for="text">Note</label> <input id="text" name="text" maxlength="200" required> <button type="submit">Add</button></form>
<ul id="notes">{{range .Notes}}<li>{{.User}}: {{.Text}}</li>{{else}}<li>No notes yet.</li>{{end}}</ul>
<h2>WebSocket echo</h2>
<input id="ws-text" value="hello"> <button id="ws-send" type="button">Send</button> <output id="ws-out"></output>
<p>JSON: <a href="/api/info">/api/info</a></p>
<script>
const out = document.getElementById('ws-out');
document.getElementById('ws-send').onclick = () => {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.onopen = () => ws.send(document.getElementById('ws-text').value);
  ws.onmessage = (e) => { out.textContent = 'echo: ' + e.data; ws.close(); };
  ws.onerror = () => { out.textContent = 'WebSocket error'; };
};
</script></body></html>
`))

func user(r *http.Request) string { return r.Header.Get("X-OnePAM-User") }

func (a *App) index(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	notes := append([]Note(nil), a.notes...)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = indexTmpl.Execute(w, struct {
		User  string
		Notes []Note
	}{user(r), notes})
}

// addNote adds the form's note and redirects to the page (POST, redirect,
// GET).
func (a *App) addNote(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	text := r.PostFormValue("text")
	if text == "" || len(text) > 200 {
		http.Error(w, "a note is 1 to 200 characters", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.notes = append(a.notes, Note{Time: a.clock().UTC(), User: user(r), Text: text})
	if len(a.notes) > maxNotes {
		a.notes = a.notes[len(a.notes)-maxNotes:]
	}
	a.mu.Unlock()
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *App) info(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	n := len(a.notes)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Info{User: user(r), Time: a.clock().UTC(), Notes: n})
}

// WebSocketEcho returns a handler that accepts a WebSocket and answers
// every message (of at most readLimit bytes) with itself until the peer
// goes. The demo app serves it at /ws; tests use it as their upstream's.
func WebSocketEcho(readLimit int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(readLimit)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	}
}
