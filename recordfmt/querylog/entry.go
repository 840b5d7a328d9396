package querylog

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Kind says what a log entry records. See the package comment.
type Kind string

// The kinds of entries.
const (
	KindQuery   Kind = "query"
	KindPrepare Kind = "prepare"
	KindExecute Kind = "execute"
	KindBind    Kind = "bind"
	KindCopyIn  Kind = "copy_in"
	KindCopyOut Kind = "copy_out"
	KindClose   Kind = "close"
	KindReset   Kind = "reset"
	KindInitDB  Kind = "init_db"
	KindPing    Kind = "ping"
	KindQuit    Kind = "quit"
	KindCancel  Kind = "cancel"
	KindError   Kind = "error"
)

// IsStatement reports whether entries of this kind count as statements
// run (query, execute, copy_in, copy_out) in a Summary.
func (k Kind) IsStatement() bool {
	switch k {
	case KindQuery, KindExecute, KindCopyIn, KindCopyOut:
		return true
	}
	return false
}

// Limits applied by the Encoder.
const (
	// MaxParamLen is the longest parameter string kept whole.
	MaxParamLen = 4 << 10
	// MaxStatementLen is the longest statement text kept whole.
	MaxStatementLen = 1 << 20
	// MaxParams is the most parameter values logged per entry.
	MaxParams = 1024
	// MaxLineSize is the longest line the Decoder accepts.
	MaxLineSize = 16 << 20
)

// Entry is one line of the query log. Field meanings are in the package
// comment; the JSON names are the tags.
type Entry struct {
	T         float64 `json:"t"`
	Conn      int     `json:"conn"`
	Database  string  `json:"database,omitempty"`
	User      string  `json:"user,omitempty"`
	Kind      Kind    `json:"kind"`
	Name      string  `json:"name,omitempty"`
	Statement string  `json:"statement,omitempty"`
	Params    []any   `json:"params,omitempty"`
	Duration  float64 `json:"duration"`
	Rows      int64   `json:"rows"`
	Bytes     int64   `json:"bytes,omitempty"`
	ErrorCode string  `json:"error_code,omitempty"`
	Error     string  `json:"error,omitempty"`
	Tag       string  `json:"tag,omitempty"`
}

// Failed reports whether the entry records an error.
func (e *Entry) Failed() bool { return e.Error != "" || e.ErrorCode != "" || e.Kind == KindError }

// Truncate cuts s to at most max bytes (on a UTF-8 boundary) and appends
// "…[truncated N bytes]" with N = len(s). Strings within the limit are
// returned unchanged.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[truncated " + strconv.Itoa(len(s)) + " bytes]"
}

// Param converts a parameter value to what the log holds: nil, bool,
// integer and float types, and strings pass (strings truncated at
// MaxParamLen; NaN and infinite floats become "NaN", "Infinity",
// "-Infinity"); []byte becomes "\x"+hex; fmt.Stringer and other values are
// formatted with %v.
func Param(v any) any {
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x
	case float32:
		return finite(float64(x))
	case float64:
		return finite(x)
	case string:
		return Truncate(x, MaxParamLen)
	case []byte:
		if x == nil {
			return nil
		}
		n := len(x)
		if 2+2*n > MaxParamLen {
			s := "\\x" + hex.EncodeToString(x[:(MaxParamLen-2)/2])
			return s + "…[truncated " + strconv.Itoa(2+2*n) + " bytes]"
		}
		return "\\x" + hex.EncodeToString(x)
	case fmt.Stringer:
		return Truncate(x.String(), MaxParamLen)
	}
	return Truncate(fmt.Sprintf("%v", v), MaxParamLen)
}

// finite returns f, or its name ("NaN", "Infinity", "-Infinity") where
// JSON has no number for it.
func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

// normalize returns e with the encoder's limits applied. It copies the
// params slice only when it must change.
func normalize(e Entry) Entry {
	e.Statement = Truncate(e.Statement, MaxStatementLen)
	if len(e.Params) == 0 {
		e.Params = nil
		return e
	}
	n := len(e.Params)
	if n > MaxParams {
		n = MaxParams
	}
	out := make([]any, n, n+1)
	for i := 0; i < n; i++ {
		out[i] = Param(e.Params[i])
	}
	if len(e.Params) > MaxParams {
		out = append(out, "…["+strconv.Itoa(len(e.Params)-MaxParams)+" more parameters]")
	}
	e.Params = out
	return e
}
