package sqlstore

// Args collects the arguments of a query built piece by piece, in the
// dialect's placeholders, for a query whose pieces are used more than
// once (a condition of every branch of a UNION).
//
// A piece is a Frag: SQL with "?" placeholders and their values. Where
// placeholders are numbered ($n), a Frag's values are passed once, when
// it is made, and every use of it shares their numbers; with "?" each use
// passes them again, in the order of the query's text. The query Args
// builds is final: a Core does not rebind it.
type Args struct {
	dollar bool
	vals   []any
}

// Frag is a piece of SQL and its values, made by Args.Frag.
type Frag struct {
	sql  string
	vals []any // nil where the values were passed at Args.Frag
}

// NewArgs returns an empty Args in d's placeholders.
func (d Dialect) NewArgs() *Args { return &Args{dollar: d.Dollar} }

// Frag returns sql, written with "?" placeholders for vals, as a piece
// of the query.
func (a *Args) Frag(sql string, vals ...any) Frag {
	if !a.dollar {
		return Frag{sql: sql, vals: vals}
	}
	f := Frag{sql: rebindFrom(sql, len(a.vals))}
	a.vals = append(a.vals, vals...)
	return f
}

// Use returns f's SQL at the next place of the query.
func (a *Args) Use(f Frag) string {
	a.vals = append(a.vals, f.vals...)
	return f.sql
}

// Values are the query's arguments.
func (a *Args) Values() []any { return a.vals }
