package consoles

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// myDriver runs the console's statements over go-sql-driver/mysql on one
// connection of the session.
type myDriver struct {
	db   *sql.DB
	conn *sql.Conn
	dead bool
}

// connectMySQL logs in through the gateway: the user is the session's
// login or a placeholder the agent's proxy replaces with the resource's
// default user; no password is asked for.
func connectMySQL(ctx context.Context, dial dialFunc, login string) (*myDriver, error) {
	cfg := mysql.NewConfig()
	cfg.User = login
	if cfg.User == "" {
		cfg.User = "onepam"
	}
	cfg.Net = "tcp"
	cfg.Addr = "onepam-gateway:3306"
	cfg.MultiStatements = true
	cfg.AllowNativePasswords = true
	cfg.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	return &myDriver{db: db, conn: conn}, nil
}

func (d *myDriver) alive() bool { return !d.dead }

func (d *myDriver) close() error {
	_ = d.conn.Close()
	return d.db.Close()
}

// rowStatement matches statements that answer rows.
var rowStatement = regexp.MustCompile(`(?is)^\s*(?:/\*.*?\*/\s*)*\(?\s*(select|show|describe|desc|explain|with|values|table|call|help|check|analyze|checksum|optimize|repair)\b`)

func (d *myDriver) run(ctx context.Context, text string, maxRows int, res *QueryResult) error {
	var err error
	if rowStatement.MatchString(text) {
		err = d.query(ctx, text, maxRows, res)
	} else {
		var r sql.Result
		if r, err = d.conn.ExecContext(ctx, text); err == nil {
			n, _ := r.RowsAffected()
			res.CommandTag = fmt.Sprintf("OK, %d rows affected", n)
		}
	}
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		res.Error, res.ErrorCode = me.Message, strconv.Itoa(int(me.Number))
		return nil
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, net.ErrClosed) {
		d.dead = true
		return err
	}
	if ctx.Err() != nil {
		d.dead = true // the driver closes a connection whose context ended
		return err
	}
	res.Error = err.Error()
	return nil
}

func (d *myDriver) query(ctx context.Context, text string, maxRows int, res *QueryResult) error {
	rows, err := d.conn.QueryContext(ctx, text)
	if err != nil {
		return err
	}
	defer rows.Close()
	var tags []string
	for {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		var (
			out   [][]*string
			count int64
		)
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		for i := range raw {
			dest[i] = &raw[i]
		}
		for rows.Next() {
			count++
			if len(out) >= maxRows {
				continue
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			row := make([]*string, len(cols))
			for i, v := range raw {
				if v != nil {
					s := string(v)
					row[i] = &s
				}
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(cols) > 0 {
			res.Columns, res.Rows, res.RowCount = cols, out, count
			if res.Rows == nil {
				res.Rows = [][]*string{}
			}
			tags = append(tags, fmt.Sprintf("SELECT %d", count))
		} else {
			tags = append(tags, "OK")
		}
		if !rows.NextResultSet() {
			break
		}
	}
	res.CommandTag = strings.Join(tags, "; ")
	return rows.Err()
}
