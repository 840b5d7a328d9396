package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/recordfmt/querylog"
)

func (g *gateway) dsn(user, db string) string {
	h, p := g.hostPort()
	return fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", user, h, p, db)
}

// TestPgxPrepared runs prepared statements with parameters of several
// types through pgx (binary parameters) and checks they are logged decoded.
func TestPgxPrepared(t *testing.T) {
	addr := scramPG.require(t)
	g := startGateway(t, target{addr, &TargetConfig{User: testUser, Password: testUserPass, Database: "app"}}, api.SessionOpen{})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, g.dsn(testUser, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	uuid := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}
	const q = "select $1::int4, $2::text, $3::bool, $4::float8, $5::timestamptz, $6::bytea, $7::uuid, $8::text, $9::int8, $10::numeric, $11::int2[]"
	var (
		i4   int32
		txt  string
		b    bool
		f    float64
		tt   time.Time
		by   []byte
		u    pgtype.UUID
		null *string
		i8   int64
		num  pgtype.Numeric
		arr  []int16
	)
	err = conn.QueryRow(ctx, q, int32(42), "héllo", true, 2.5, ts, []byte{0xde, 0xad, 0xbe, 0xef}, pgtype.UUID{Bytes: uuid, Valid: true}, nil, int64(-9007199254740993), "12.50", []int16{1, 2}).
		Scan(&i4, &txt, &b, &f, &tt, &by, &u, &null, &i8, &num, &arr)
	if err != nil {
		t.Fatal(err)
	}
	if i4 != 42 || txt != "héllo" || !b || f != 2.5 || !tt.Equal(ts) || null != nil || i8 != -9007199254740993 {
		t.Fatalf("results through the proxy: %v %v %v %v %v %v %v", i4, txt, b, f, tt, null, i8)
	}
	e := g.sink.waitEntry(t, "execute", func(e querylog.Entry) bool { return e.Kind == querylog.KindExecute && e.Statement == q })
	got, _ := json.Marshal(e.Params)
	want := `[42,"héllo",true,2.5,"2024-01-02T03:04:05.123456Z","\\xdeadbeef","12345678-9abc-def0-1234-56789abcdef0",null,-9007199254740993,"12.50","{1,2}"]`
	if string(got) != want {
		t.Errorf("params\n got %s\nwant %s", got, want)
	}
	if e.Rows != 1 || e.Tag != "SELECT 1" || e.Name == "" || e.User != testUser || e.Database != "app" {
		t.Errorf("execute entry %+v", e)
	}
	g.sink.waitEntry(t, "prepare", func(e querylog.Entry) bool {
		return e.Kind == querylog.KindPrepare && e.Statement == q && e.Name != "" && e.Error == ""
	})

	// A syntax error in the extended protocol fails at Parse.
	_, err = conn.Exec(ctx, "selec $1::int", 1)
	if err == nil {
		t.Fatal("syntax error passed")
	}
	e = g.sink.waitEntry(t, "failed parse", func(e querylog.Entry) bool { return e.Statement == "selec $1::int" })
	if e.Kind != querylog.KindPrepare || e.ErrorCode != "42601" {
		t.Errorf("failed parse entry %+v", e)
	}
	// The connection goes on after the error.
	var n int
	if err := conn.QueryRow(ctx, "select $1::int + 1", 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("after the error: %v %d", err, n)
	}
	// Many rows, in batches (a row limit gives PortalSuspended only with
	// cursors; here plain rows are counted).
	rows, err := conn.Query(ctx, "select g from generate_series(1, $1::int) g", 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for rows.Next() {
		count++
	}
	if rows.Err() != nil || count != 1000 {
		t.Fatalf("rows: %v %d", rows.Err(), count)
	}
	e = g.sink.waitEntry(t, "generate_series", func(e querylog.Entry) bool {
		return e.Kind == querylog.KindExecute && strings.HasPrefix(e.Statement, "select g from generate_series")
	})
	if e.Rows != 1000 || fmt.Sprint(e.Params) != "[1000]" {
		t.Errorf("generate_series entry %+v", e)
	}
}

// TestDatabaseSQL runs database/sql with the pgx stdlib driver: DDL,
// inserts with parameters, a transaction and a query.
func TestDatabaseSQL(t *testing.T) {
	addr := md5PG.require(t)
	g := startGateway(t, target{addr, &TargetConfig{User: testUser, Password: testUserPass, Database: "app"}}, api.SessionOpen{})
	db, err := sql.Open("pgx", g.dsn(testUser, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "create temp table people(id int, name text, born date, score real)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"ada", "grace", "edsger"} {
		if _, err := tx.ExecContext(ctx, "insert into people values ($1, $2, $3, $4)", i+1, name, time.Date(1815+i*50, 12, 10, 0, 0, 0, 0, time.UTC), float32(i)+0.5); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var names string
	if err := db.QueryRowContext(ctx, "select string_agg(name, ',' order by id) from people where id <= $1", 3).Scan(&names); err != nil || names != "ada,grace,edsger" {
		t.Fatalf("query: %v %q", err, names)
	}
	var inserts []querylog.Entry
	deadline := time.Now().Add(10 * time.Second)
	for len(inserts) < 3 && time.Now().Before(deadline) {
		inserts = nil
		for _, e := range g.sink.entries(t) {
			if e.Kind == querylog.KindExecute && strings.HasPrefix(e.Statement, "insert into people") {
				inserts = append(inserts, e)
			}
		}
	}
	if len(inserts) != 3 {
		t.Fatalf("%d insert entries:\n%s", len(inserts), g.sink.dump())
	}
	got, _ := json.Marshal(inserts[1].Params)
	if string(got) != `[2,"grace","1865-12-10",1.5]` || inserts[1].Rows != 1 || inserts[1].Tag != "INSERT 0 1" {
		t.Errorf("second insert %s %+v", got, inserts[1])
	}
	e := g.sink.waitEntry(t, "string_agg", func(e querylog.Entry) bool {
		return strings.Contains(e.Statement, "string_agg") && e.Kind == querylog.KindExecute
	})
	if e.Rows != 1 || fmt.Sprint(e.Params) != "[3]" {
		t.Errorf("query entry %+v", e)
	}
}

// TestLargeMessages: rows, a statement and an error longer than the
// relay's read buffer pass through whole, in both protocols, and are
// logged.
func TestLargeMessages(t *testing.T) {
	g := startGateway(t, target{requireMachinePG(t), &TargetConfig{User: "postgres"}}, api.SessionOpen{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(g.dsn("postgres", "postgres"))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			long := strings.Repeat("l", 200_000)
			rows, err := conn.Query(ctx, "select repeat('x', 300000 + i) || $1::text from generate_series(1, 7) i", long)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				n++
				if len(s) != 300_000+n+len(long) {
					t.Fatalf("row %d has %d bytes", n, len(s))
				}
			}
			if err := rows.Err(); err != nil || n != 7 {
				t.Fatalf("%d rows, %v", n, err)
			}
			_, err = conn.Exec(ctx, "select 1/0 from (select $1::text) x where length($1) > 0", long)
			if err == nil || !strings.Contains(err.Error(), "division by zero") {
				t.Fatalf("error %v, want division by zero", err)
			}
			var one int
			if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("after the error: %d, %v", one, err)
			}
			g.sink.waitEntry(t, "the rows", func(e querylog.Entry) bool {
				return strings.HasPrefix(e.Statement, "select repeat('x'") && e.Rows == 7 &&
					(mode == pgx.QueryExecModeSimpleProtocol && strings.Contains(e.Statement, long) || len(e.Params) == 1)
			})
			g.sink.waitEntry(t, "the error", func(e querylog.Entry) bool {
				return strings.HasPrefix(e.Statement, "select 1/0") && e.ErrorCode == "22012"
			})
		})
	}
}
