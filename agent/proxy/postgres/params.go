package postgres

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// Type OIDs decoded without pgtype.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidUUID        = 2950
)

// pgEpoch is PostgreSQL's zero time for binary dates and timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// decodeParam turns one Bind parameter into its log value: nil for NULL;
// text format values as the string sent; binary values decoded by type
// (numbers, booleans, strings, "\x" hex for bytea, canonical text for
// uuid, dates, timestamps and every other type pgtype knows); binary values
// of unknown types as "\x" hex. Long values are cut at
// querylog.MaxParamLen.
func (pc *pgConn) decodeParam(oid uint32, format uint16, v []byte) (out any) {
	if v == nil {
		return nil
	}
	if format == 0 {
		return textParam(v)
	}
	switch oid {
	case oidBool:
		if len(v) == 1 {
			return v[0] != 0
		}
	case oidInt2:
		if len(v) == 2 {
			return int64(int16(binary.BigEndian.Uint16(v)))
		}
	case oidInt4:
		if len(v) == 4 {
			return int64(int32(binary.BigEndian.Uint32(v)))
		}
	case oidInt8:
		if len(v) == 8 {
			return int64(binary.BigEndian.Uint64(v))
		}
	case oidOID:
		if len(v) == 4 {
			return int64(binary.BigEndian.Uint32(v))
		}
	case oidFloat4:
		if len(v) == 4 {
			return float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
		}
	case oidFloat8:
		if len(v) == 8 {
			return math.Float64frombits(binary.BigEndian.Uint64(v))
		}
	case oidText, oidVarchar, oidBPChar, oidName, oidUnknown, oidJSON:
		return textParam(v)
	case oidBytea:
		return hexParam(v)
	case oidUUID:
		if len(v) == 16 {
			h := hex.EncodeToString(v)
			return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		}
	case oidTimestamp, oidTimestamptz:
		if len(v) == 8 {
			return timestampParam(int64(binary.BigEndian.Uint64(v)), oid == oidTimestamptz)
		}
	case oidDate:
		if len(v) == 4 {
			d := int32(binary.BigEndian.Uint32(v))
			switch d {
			case math.MaxInt32:
				return "infinity"
			case math.MinInt32:
				return "-infinity"
			}
			return pgEpoch.AddDate(0, 0, int(d)).Format(time.DateOnly)
		}
	default:
		if s, ok := pc.viaPgtype(oid, v); ok {
			return s
		}
	}
	return hexParam(v)
}

// viaPgtype decodes a binary value of a type pgtype knows and writes it
// in the type's text format. Hostile bytes give an error (or, should a
// codec panic, a recovered failure), never a crash.
func (pc *pgConn) viaPgtype(oid uint32, v []byte) (s any, ok bool) {
	if oid == 0 || len(v) > 1<<20 {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			s, ok = nil, false
		}
	}()
	if pc.types == nil {
		pc.types = pgtype.NewMap()
	}
	t, found := pc.types.TypeForOID(oid)
	if !found {
		return nil, false
	}
	val, err := t.Codec.DecodeValue(pc.types, oid, pgtype.BinaryFormatCode, v)
	if err != nil || val == nil {
		return nil, false
	}
	text, err := pc.types.Encode(oid, pgtype.TextFormatCode, val, nil)
	if err != nil || text == nil {
		return fmt.Sprint(val), true
	}
	return textParam(text), true
}

// textParam copies at most querylog.MaxParamLen bytes of v (cut on a UTF-8
// boundary) and marks the cut.
func textParam(v []byte) string {
	if len(v) <= querylog.MaxParamLen {
		return string(v)
	}
	cut := querylog.MaxParamLen
	for cut > querylog.MaxParamLen-utf8.UTFMax && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return string(v[:cut]) + "…[truncated " + strconv.Itoa(len(v)) + " bytes]"
}

// hexParam writes bytes as PostgreSQL's bytea hex form, "\x" + hex, cut
// after querylog.MaxParamLen characters.
func hexParam(v []byte) string {
	full := 2 + 2*len(v)
	if full <= querylog.MaxParamLen {
		return `\x` + hex.EncodeToString(v)
	}
	return `\x` + hex.EncodeToString(v[:(querylog.MaxParamLen-2)/2]) + "…[truncated " + strconv.Itoa(full) + " bytes]"
}

// timestampParam formats microseconds since 2000-01-01 as RFC 3339 (UTC
// with Z for timestamptz, no zone for timestamp).
func timestampParam(us int64, tz bool) string {
	switch us {
	case math.MaxInt64:
		return "infinity"
	case math.MinInt64:
		return "-infinity"
	}
	t := time.Unix(pgEpoch.Unix()+us/1e6, (us%1e6)*1e3).UTC()
	if tz {
		return t.Format("2006-01-02T15:04:05.999999Z07:00")
	}
	return t.Format("2006-01-02T15:04:05.999999")
}
