package querylog

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

// jsonLine is what encoding/json writes for e (the encoder's reference).
func jsonLine(t testing.TB, e Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendEntryMatchesJSON(t *testing.T) {
	entries := append(goldenEntries(),
		Entry{Kind: KindQuery, Statement: "a\"b\\c\n\r\t\b\f\x00\x1f\x7f <html> & é 日本 \u2028\u2029 \xff\xfe end"},
		Entry{T: 1e-7, Duration: 1e21, Kind: KindQuery, Rows: math.MaxInt64, Bytes: math.MinInt64},
		Entry{T: 123456789.123456, Duration: 5e-324, Conn: -3, Kind: KindExecute},
		Entry{Kind: KindExecute, Params: []any{int8(-8), int16(16), int32(-32), int(7), uint(1), uint8(8), uint16(16), uint32(32), uint64(math.MaxUint64), -0.0, 1e-9, 3.14159, "\xff", "<>&"}},
		Entry{Kind: KindExecute, Params: []any{map[string]int{"a": 1}}}, // not from Param: encoding/json's fallback
	)
	for _, e := range entries {
		t.Run(string(e.Kind)+"/"+e.Statement, func(t *testing.T) {
			got, err := appendEntry(nil, &e)
			if err != nil {
				t.Fatal(err)
			}
			if want := jsonLine(t, e); !bytes.Equal(got, want) {
				t.Fatalf("appendEntry:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzAppendEntry: for any strings and numbers the encoder writes exactly
// what encoding/json writes.
func FuzzAppendEntry(f *testing.F) {
	f.Add("select 1", "app", "u\x00\xff", "stmt", 0.5, 1e-7, int64(3), "p\u2028", int64(-1), 2.5)
	f.Fuzz(func(t *testing.T, stmt, db, user, name string, tm, dur float64, rows int64, ps string, pi int64, pf float64) {
		if math.IsNaN(tm) || math.IsInf(tm, 0) || math.IsNaN(dur) || math.IsInf(dur, 0) {
			return
		}
		e := normalize(Entry{T: tm, Duration: dur, Conn: int(rows), Database: db, User: user, Kind: Kind(name), Name: name,
			Statement: stmt, Rows: rows, Bytes: pi, Error: ps, ErrorCode: db, Tag: user, Params: []any{ps, pi, pf, nil, true, []byte(ps)}})
		got, err := appendEntry(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if want := jsonLine(t, e); !bytes.Equal(got, want) {
			t.Fatalf("appendEntry:\n got %s\nwant %s", got, want)
		}
	})
}
