package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE a = ? AND b = ?`, `SELECT a FROM t WHERE a = $1 AND b = $2`},
		{`SELECT '?' , "x?" FROM t WHERE a = ?`, `SELECT '?' , "x?" FROM t WHERE a = $1`},
		{`VALUES (?, ?, ?)`, `VALUES ($1, $2, $3)`},
		{`WHERE a = 'it''s ?' AND b = ?`, `WHERE a = 'it''s ?' AND b = $1`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := Rebind(tc.in); got != tc.want {
				t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRebinderCaches(t *testing.T) {
	r := newRebinder(true)
	q := `SELECT a FROM t WHERE a = ?`
	if got := r.bind(q); got != `SELECT a FROM t WHERE a = $1` {
		t.Fatalf("bind = %q", got)
	}
	if _, ok := r.cache[q]; !ok {
		t.Fatal("statement not cached")
	}
	if got := newRebinder(false).bind(q); got != q {
		t.Fatalf("? dialect changed the statement: %q", got)
	}
}
