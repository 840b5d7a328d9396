package consoles

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// QueryRequest is the body of POST /v1/sessions/{id}/query.
type QueryRequest struct {
	SQL string `json:"sql"`
}

// QueryResult answers POST /v1/sessions/{id}/query. When the text holds
// several statements, Columns, Rows, RowCount and Truncated describe the
// last result that has columns (else the last result), and CommandTag
// lists every statement's tag, "; "-separated.
type QueryResult struct {
	// Columns names the result's columns (empty for statements without
	// rows).
	Columns []string `json:"columns"`
	// Rows are the first MaxRows rows, each value as text, null for NULL.
	Rows [][]*string `json:"rows"`
	// RowCount is every row the statement returned, sent or not.
	RowCount int64 `json:"row_count"`
	// Truncated says rows were left out (RowCount > len(Rows)).
	Truncated bool `json:"truncated"`
	// CommandTag is the server's completion tag ("SELECT 1", "INSERT 0 3";
	// for MySQL "OK, 3 rows affected" or "SELECT 2").
	CommandTag string `json:"command_tag"`
	// DurationSeconds is the time from sending the text to the last row.
	DurationSeconds float64 `json:"duration_seconds"`
	// Error is the server's error ("" on success); ErrorCode its SQLSTATE
	// (PostgreSQL) or error number (MySQL).
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	// Protocol is postgres or mysql.
	Protocol string `json:"protocol"`
}

// dbDriver runs statements on one database connection of a session.
type dbDriver interface {
	// run executes the text and fills res; a server error goes in
	// res.Error, a broken connection is returned.
	run(ctx context.Context, sql string, maxRows int, res *QueryResult) error
	alive() bool
	close() error
}

// dialFunc attaches a new data connection of the session.
type dialFunc func(ctx context.Context) (net.Conn, error)

// dbConsole is an open database console: the session's events channel
// (its lead) and a database connection over a data connection.
type dbConsole struct {
	c        *Consoles
	id, user string
	protocol string
	login    string
	dial     dialFunc
	events   net.Conn
	gone     chan struct{} // closed once the events channel ended

	mu     sync.Mutex // one request at a time
	driver dbDriver
	idle   *time.Timer
	once   sync.Once
}

// dbProtocol tells postgres from mysql for a db resource; resources from
// agents that do not announce a protocol are guessed by port.
func dbProtocol(protocol, address string) (string, error) {
	switch strings.ToLower(protocol) {
	case "postgres", "postgresql":
		return "postgres", nil
	case "mysql", "mariadb":
		return "mysql", nil
	case "":
		if _, port, _ := net.SplitHostPort(address); port == "3306" {
			return "mysql", nil
		}
		return "postgres", nil
	}
	return "", api.Errorf(api.CodeInvalid, "the database console speaks postgres and mysql, not %q", protocol)
}

// dbConsoleFor returns the open console of session id, opening it on the
// first request.
func (c *Consoles) dbConsoleFor(ctx context.Context, p auth.Principal, id, clientAddr string) (*dbConsole, error) {
	c.openMu.Lock()
	defer c.openMu.Unlock()
	c.mu.Lock()
	d, closed := c.dbs[id], c.closed
	c.mu.Unlock()
	if closed {
		return nil, api.Errorf(api.CodeUnavailable, "control server is shutting down")
	}
	if d != nil {
		if d.user != p.User {
			return nil, api.Errorf(api.CodeForbidden, "session %s belongs to user %q: only its owner can use it", id, d.user)
		}
		return d, nil
	}
	s, err := c.ownSession(ctx, p, id, api.TypeDB)
	if err != nil {
		return nil, err
	}
	res, err := c.cfg.Store.GetResource(ctx, s.Resource)
	if err != nil {
		return nil, api.Errorf(api.CodeNotFound, "resource %s of session %s: %v", s.Resource, id, err)
	}
	proto, err := dbProtocol(res.Protocol, res.Address)
	if err != nil {
		return nil, err
	}
	events, err := c.attachPipe(ctx, p, id, api.ChannelEvents, clientAddr)
	if err != nil {
		return nil, err
	}
	d = &dbConsole{c: c, id: id, user: p.User, protocol: proto, login: s.Login, events: events, gone: make(chan struct{}),
		dial: func(ctx context.Context) (net.Conn, error) {
			return c.attachPipe(ctx, p, id, api.ChannelData, clientAddr)
		}}
	go d.followEvents()
	d.idle = time.AfterFunc(c.cfg.IdleTimeout, func() { d.close("idle for " + c.cfg.IdleTimeout.String()) })
	c.mu.Lock()
	c.dbs[id] = d
	c.mu.Unlock()
	c.cfg.Logger.Info("database console open", "session_id", id, "user", p.User, "protocol", proto)
	return d, nil
}

// followEvents reads the events channel until it ends (the session ended:
// terminated, failed, or closed by us), then closes the console.
func (d *dbConsole) followEvents() {
	r := bufio.NewReader(d.events)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var ev api.SessionEvent
			if json.Unmarshal(line, &ev) == nil && ev.Status.Terminal() {
				d.c.cfg.Logger.Info("database console session ended", "session_id", d.id, "status", ev.Status, "message", ev.Message)
			}
		}
		if err != nil {
			close(d.gone)
			d.close("the session ended")
			return
		}
	}
}

// close ends the console: the database connection, then the events
// channel, which completes the session (unless it already ended).
func (d *dbConsole) close(why string) {
	d.once.Do(func() {
		d.c.mu.Lock()
		if d.c.dbs[d.id] == d {
			delete(d.c.dbs, d.id)
		}
		d.c.mu.Unlock()
		d.idle.Stop()
		d.mu.Lock()
		if d.driver != nil {
			_ = d.driver.close()
		}
		d.mu.Unlock()
		_ = d.events.Close()
		d.c.cfg.Logger.Info("database console closed", "session_id", d.id, "why", why)
	})
}

// run executes one request, connecting first when needed.
func (d *dbConsole) run(ctx context.Context, sql string) (QueryResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.gone:
		return QueryResult{}, api.Errorf(api.CodeConflict, "session %s has ended", d.id)
	default:
	}
	d.idle.Reset(d.c.cfg.IdleTimeout)
	res := QueryResult{Protocol: d.protocol, Columns: []string{}, Rows: [][]*string{}}
	if d.driver == nil || !d.driver.alive() {
		if d.driver != nil {
			_ = d.driver.close()
			d.driver = nil
		}
		cctx, cancel := context.WithTimeout(ctx, d.c.cfg.ConnectTimeout)
		drv, err := d.connect(cctx)
		cancel()
		if err != nil {
			return res, err
		}
		d.driver = drv
	}
	start := time.Now()
	err := d.driver.run(ctx, sql, d.c.cfg.MaxRows, &res)
	res.DurationSeconds = time.Since(start).Seconds()
	if err != nil {
		return res, api.Errorf(api.CodeTargetFailed, "the database connection broke: %v", err)
	}
	res.Truncated = res.RowCount > int64(len(res.Rows))
	return res, nil
}

func (d *dbConsole) connect(ctx context.Context) (dbDriver, error) {
	var (
		drv dbDriver
		err error
	)
	switch d.protocol {
	case "mysql":
		drv, err = connectMySQL(ctx, d.dial, d.login)
	default:
		drv, err = connectPostgres(ctx, d.dial, d.login)
	}
	if err != nil {
		return nil, api.Errorf(api.CodeTargetFailed, "log in to the database through the gateway: %v", err)
	}
	return drv, nil
}

// maxSQL bounds the statement text of one request.
const maxSQL = 1 << 20

// query runs the statements of the request body on the session's database.
func (c *Consoles) query(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	var req QueryRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxSQL+4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, r, api.Errorf(api.CodeInvalid, "want a JSON body {\"sql\": \"select 1\"}: %v", err))
		return
	}
	if strings.TrimSpace(req.SQL) == "" {
		writeError(w, r, api.Errorf(api.CodeInvalid, "sql is empty"))
		return
	}
	if len(req.SQL) > maxSQL {
		writeError(w, r, api.Errorf(api.CodeInvalid, "sql is longer than %d bytes", maxSQL))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), c.cfg.QueryTimeout)
	defer cancel()
	d, err := c.dbConsoleFor(ctx, p, r.PathValue("id"), r.RemoteAddr)
	if err != nil {
		writeError(w, r, err)
		return
	}
	res, err := d.run(ctx, req.SQL)
	if err != nil {
		writeError(w, r, fmt.Errorf("session %s: %w", d.id, err))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// endQuery ends the session's database console (the session completes).
func (c *Consoles) endQuery(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id := r.PathValue("id")
	c.mu.Lock()
	d := c.dbs[id]
	c.mu.Unlock()
	if d == nil {
		writeError(w, r, api.Errorf(api.CodeNotFound, "session %s has no open database console", id))
		return
	}
	if d.user != p.User {
		writeError(w, r, api.Errorf(api.CodeForbidden, "session %s belongs to user %q: only its owner can use it", id, d.user))
		return
	}
	d.close("closed by " + p.User)
	w.WriteHeader(http.StatusNoContent)
}
