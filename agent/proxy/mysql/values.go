package mysql

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/onepam/onepam/recordfmt/querylog"
)

// Column / parameter types of the binary protocol.
const (
	typeDecimal    byte = 0x00
	typeTiny       byte = 0x01
	typeShort      byte = 0x02
	typeLong       byte = 0x03
	typeFloat      byte = 0x04
	typeDouble     byte = 0x05
	typeNull       byte = 0x06
	typeTimestamp  byte = 0x07
	typeLongLong   byte = 0x08
	typeInt24      byte = 0x09
	typeDate       byte = 0x0a
	typeTime       byte = 0x0b
	typeDateTime   byte = 0x0c
	typeYear       byte = 0x0d
	typeNewDate    byte = 0x0e
	typeVarchar    byte = 0x0f
	typeBit        byte = 0x10
	typeTimestamp2 byte = 0x11
	typeDateTime2  byte = 0x12
	typeTime2      byte = 0x13
	typeJSON       byte = 0xf5
	typeNewDecimal byte = 0xf6
	typeEnum       byte = 0xf7
	typeSet        byte = 0xf8
	typeTinyBlob   byte = 0xf9
	typeMediumBlob byte = 0xfa
	typeLongBlob   byte = 0xfb
	typeBlob       byte = 0xfc
	typeVarString  byte = 0xfd
	typeString     byte = 0xfe
	typeGeometry   byte = 0xff
)

// flagUnsigned is set in a parameter type's second byte for unsigned
// integers.
const flagUnsigned byte = 0x80

// truncMarkRoom is room left for "…[truncated N bytes]" when the proxy
// cuts a value itself, so the query log encoder keeps it as is.
const truncMarkRoom = 48

// binaryValue decodes one parameter value of a COM_STMT_EXECUTE in the
// binary protocol for the log: integers (int64 or uint64), floats
// (float64; NaN and infinities as strings, which JSON cannot hold),
// strings, "\x"-hex for bytes that are not text, and dates and times in
// SQL literal form.
func binaryValue(r *reader, typ, flags byte) (any, error) {
	unsigned := flags&flagUnsigned != 0
	switch typ {
	case typeNull:
		return nil, nil
	case typeTiny:
		v := r.u8("TINY")
		if unsigned {
			return uint64(v), r.err
		}
		return int64(int8(v)), r.err
	case typeShort, typeYear:
		v := r.u16("SHORT")
		if unsigned {
			return uint64(v), r.err
		}
		return int64(int16(v)), r.err
	case typeLong, typeInt24:
		v := r.u32("LONG")
		if unsigned {
			return uint64(v), r.err
		}
		return int64(int32(v)), r.err
	case typeLongLong:
		v := r.u64("LONGLONG")
		if unsigned {
			return v, r.err
		}
		return int64(v), r.err
	case typeFloat:
		f := math.Float32frombits(r.u32("FLOAT"))
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return strconv.FormatFloat(float64(f), 'g', -1, 32), r.err
		}
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
		return v, r.err
	case typeDouble:
		f := math.Float64frombits(r.u64("DOUBLE"))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64), r.err
		}
		return f, r.err
	case typeDate, typeDateTime, typeTimestamp, typeNewDate, typeDateTime2, typeTimestamp2:
		return dateValue(r, typ)
	case typeTime, typeTime2:
		return timeValue(r)
	case typeDecimal, typeNewDecimal:
		b := r.lenencString("DECIMAL")
		return string(b), r.err
	case typeVarchar, typeBit, typeJSON, typeEnum, typeSet, typeTinyBlob, typeMediumBlob,
		typeLongBlob, typeBlob, typeVarString, typeString, typeGeometry:
		b := r.lenencString("string")
		if r.err != nil {
			return nil, r.err
		}
		if typ == typeBit || typ == typeGeometry {
			return hexValue(b), nil
		}
		return bytesValue(b), nil
	}
	return nil, fmt.Errorf("%w: unknown parameter type 0x%02x", errMalformed, typ)
}

// dateValue decodes DATE / DATETIME / TIMESTAMP: a length byte (0, 4, 7
// or 11), then year (2 bytes), month, day, hour, minute, second and
// microseconds (4 bytes) as far as the length goes.
func dateValue(r *reader, typ byte) (any, error) {
	n := r.u8("date length")
	if n != 0 && n != 4 && n != 7 && n != 11 {
		return nil, fmt.Errorf("%w: date length %d", errMalformed, n)
	}
	d := reader{b: r.bytes(int(n), "date")}
	if r.err != nil {
		return nil, r.err
	}
	var y uint16
	var mo, dd, h, mi, s byte
	var us uint32
	if n >= 4 {
		y, mo, dd = d.u16("year"), d.u8("month"), d.u8("day")
	}
	if n >= 7 {
		h, mi, s = d.u8("hour"), d.u8("minute"), d.u8("second")
	}
	if n >= 11 {
		us = d.u32("microseconds")
	}
	out := fmt.Sprintf("%04d-%02d-%02d", y, mo, dd)
	if typ == typeDate || typ == typeNewDate {
		return out, nil
	}
	out += fmt.Sprintf(" %02d:%02d:%02d", h, mi, s)
	if us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	return out, nil
}

// timeValue decodes TIME: a length byte (0, 8 or 12), then sign, days (4
// bytes), hour, minute, second and microseconds (4 bytes).
func timeValue(r *reader) (any, error) {
	n := r.u8("time length")
	if n != 0 && n != 8 && n != 12 {
		return nil, fmt.Errorf("%w: time length %d", errMalformed, n)
	}
	d := reader{b: r.bytes(int(n), "time")}
	if r.err != nil {
		return nil, r.err
	}
	if n == 0 {
		return "00:00:00", nil
	}
	neg := d.u8("sign") == 1
	days := d.u32("days")
	h, mi, s := d.u8("hour"), d.u8("minute"), d.u8("second")
	var us uint32
	if n == 12 {
		us = d.u32("microseconds")
	}
	out := fmt.Sprintf("%02d:%02d:%02d", uint64(days)*24+uint64(h), mi, s)
	if us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

// bytesValue logs b as text when it is UTF-8 (judged on its first
// MaxParamLen bytes), else as "\x"-hex, cut to the log's limit.
func bytesValue(b []byte) string {
	head := b[:min(len(b), querylog.MaxParamLen)]
	if len(head) < len(b) {
		// do not judge a rune cut in half at the end
		for i := 0; i < utf8.UTFMax && len(head) > 0 && !utf8.RuneStart(b[len(head)]); i++ {
			head = head[:len(head)-1]
		}
	}
	if !utf8.Valid(head) {
		return hexValue(b)
	}
	return clipText(b, querylog.MaxParamLen)
}

// hexValue is b as "\x"-hex, cut to the log's parameter limit.
func hexValue(b []byte) string {
	if 2+2*len(b) <= querylog.MaxParamLen {
		return `\x` + hex.EncodeToString(b)
	}
	k := (querylog.MaxParamLen - 2 - truncMarkRoom) / 2
	return `\x` + hex.EncodeToString(b[:k]) + "…[truncated " + strconv.Itoa(2+2*len(b)) + " bytes]"
}

// clipText is b as a string of at most limit bytes: longer text is cut
// on a rune boundary and ends with "…[truncated N bytes]" (N = len(b)),
// the query log's marker. Only the kept part is copied.
func clipText(b []byte, limit int) string {
	if len(b) <= limit {
		return string(b)
	}
	cut := limit - truncMarkRoom
	for i := 0; i < utf8.UTFMax && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
		cut--
	}
	return string(b[:cut]) + "…[truncated " + strconv.Itoa(len(b)) + " bytes]"
}
