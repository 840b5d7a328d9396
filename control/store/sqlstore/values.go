package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Nanos stores a time as Unix nanoseconds.
func Nanos(t time.Time) int64 { return t.UnixNano() }

// NullNanos stores an optional time; nil is NULL.
func NullNanos(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// FromNanos reads a stored time (UTC).
func FromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// FromNullNanos reads an optional stored time.
func FromNullNanos(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := FromNanos(n.Int64)
	return &t
}

// ToJSON encodes a list or map column; nil is stored as its empty form.
func ToJSON(v any, empty string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode json column: %w", err)
	}
	if string(b) == "null" {
		return empty, nil
	}
	return string(b), nil
}

// FromJSON decodes a list or map column.
func FromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode json column: %w", err)
	}
	return nil
}

// Placeholders returns "?, ?, ..." with n marks.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// Affected returns the rows changed by res.
func Affected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
