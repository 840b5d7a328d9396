package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Notify sends payload on channel to every session of the database
// listening on it (pg_notify: delivered when the statement commits, in
// order; payload shorter than 8000 bytes).
func (s *Store) Notify(ctx context.Context, channel, payload string) error {
	if _, err := s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}

// Listen listens on channel on a connection of the pool kept for it
// (LISTEN), calls ready with the connection's server process id once it
// listens, then handle with each notification's payload until ctx ends
// (ctx.Err()) or the connection fails. The connection is then closed, not
// returned to the pool.
func (s *Store) Listen(ctx context.Context, channel string, ready func(pid uint32), handle func(payload string)) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", channel, err)
	}
	defer conn.Close()
	var listenErr error
	// driver.ErrBadConn from Raw makes database/sql close the connection:
	// it listens (or it failed) and must not serve anything else.
	_ = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			listenErr = fmt.Errorf("listen on %s: driver connection %T, want pgx", channel, dc)
			return driver.ErrBadConn
		}
		listenErr = listen(ctx, sc.Conn(), channel, ready, handle)
		return driver.ErrBadConn
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return listenErr
}

// listen runs Listen on the pgx connection c.
func listen(ctx context.Context, c *pgx.Conn, channel string, ready func(pid uint32), handle func(payload string)) error {
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen on %s: %w", channel, err)
	}
	ready(c.PgConn().PID())
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("listen on %s: %w", channel, err)
		}
		if n == nil {
			return errors.New("listen on " + channel + ": no notification")
		}
		if n.Channel == channel {
			handle(n.Payload)
		}
	}
}
