package consoles

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgDriver runs the console's statements over pgx's pgconn with the simple
// query protocol (text results, several statements per request).
type pgDriver struct{ conn *pgconn.PgConn }

// connectPostgres logs in through the gateway. The user is the session's
// login, or a placeholder the agent's proxy replaces with the resource's
// default user; no password is asked for.
func connectPostgres(ctx context.Context, dial dialFunc, login string) (*pgDriver, error) {
	user := login
	if user == "" {
		user = "onepam"
	}
	cfg, err := pgconn.ParseConfig("host=onepam-gateway port=5432 sslmode=disable application_name=onepam-web-console")
	if err != nil {
		return nil, err
	}
	cfg.User = user
	cfg.Database = user // libpq's default: the agent uses the session's or the resource's database
	cfg.Password = ""
	cfg.TLSConfig = nil
	cfg.Fallbacks = nil
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{"onepam-gateway"}, nil }
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &pgDriver{conn: conn}, nil
}

func (d *pgDriver) alive() bool { return !d.conn.IsClosed() }

func (d *pgDriver) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	return d.conn.Close(ctx)
}

func (d *pgDriver) run(ctx context.Context, sql string, maxRows int, res *QueryResult) error {
	mrr := d.conn.Exec(ctx, sql)
	var tags []string
	haveCols := false
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		var (
			cols  []string
			rows  [][]*string
			count int64
		)
		for _, fd := range fds {
			cols = append(cols, fd.Name)
		}
		for rr.NextRow() {
			count++
			if len(rows) >= maxRows {
				continue
			}
			vals := rr.Values()
			row := make([]*string, len(vals))
			for i, v := range vals {
				if v != nil {
					s := string(v)
					row[i] = &s
				}
			}
			rows = append(rows, row)
		}
		tag, err := rr.Close()
		if err != nil {
			break // the error comes again from mrr.Close
		}
		tags = append(tags, tag.String())
		if len(fds) > 0 || !haveCols {
			haveCols = haveCols || len(fds) > 0
			res.Columns, res.RowCount = cols, count
			res.Rows = rows
			if res.Columns == nil {
				res.Columns = []string{}
			}
			if res.Rows == nil {
				res.Rows = [][]*string{}
			}
		}
	}
	err := mrr.Close()
	res.CommandTag = strings.Join(tags, "; ")
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		res.Error, res.ErrorCode = pe.Message, pe.Code
		if pe.Detail != "" {
			res.Error += " (" + pe.Detail + ")"
		}
		return nil
	}
	if err != nil && !d.conn.IsClosed() {
		// A client-side error that left the connection usable (e.g. the
		// request's context ended and the statement was cancelled).
		res.Error = err.Error()
		return nil
	}
	return err
}
