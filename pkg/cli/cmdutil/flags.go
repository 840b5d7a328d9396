package cmdutil

import (
	"fmt"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/spf13/cobra"
)

// ParseTime parses a --since/--until value: a duration before now ("1h",
// "30m", "2h30m", "7d") or an RFC 3339 time. "" is the zero time.
func ParseTime(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, FlagErrorf("--%s %q: want a duration like 1h or 7d, or an RFC 3339 time like 2025-01-02T15:04:05Z", flag, v)
}

// ParseDuration parses a Go duration, also accepting a number of days ("7d").
func ParseDuration(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days >= 0 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %s", v)
	}
	return d, nil
}

// SplitList flattens repeatable flags that may also hold comma lists.
func SplitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// ParseLabels parses repeated k=v flags into a map.
func ParseLabels(flag string, vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(vals))
	for _, v := range SplitList(vals) {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, FlagErrorf("--%s %q: want key=value", flag, v)
		}
		m[k] = val
	}
	return m, nil
}

// ParseTypes parses session types from repeatable/comma-list flags.
func ParseTypes(vals []string) ([]api.SessionType, error) {
	var out []api.SessionType
	for _, v := range SplitList(vals) {
		t, err := api.ParseSessionType(v)
		if err != nil {
			return nil, &FlagError{Err: err}
		}
		out = append(out, t)
	}
	return out, nil
}

// ParseStatuses parses session states from repeatable/comma-list flags.
func ParseStatuses(vals []string) ([]api.SessionStatus, error) {
	var out []api.SessionStatus
	for _, v := range SplitList(vals) {
		s, err := api.ParseSessionStatus(strings.ToLower(v))
		if err != nil {
			return nil, &FlagError{Err: err}
		}
		out = append(out, s)
	}
	return out, nil
}

// ExactArgs is cobra.ExactArgs returning usage errors that name the
// missing arguments.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return FlagErrorf("%s: want %s (got %d arguments); see %s --help", cmd.CommandPath(), what, len(args), cmd.CommandPath())
		}
		return nil
	}
}

// NoArgs rejects positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("%s takes no arguments (got %q); see %s --help", cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return nil
}
