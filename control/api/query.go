package api

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// maxLimit is the largest page size.
const maxLimit = 1000

// listParam returns the values of a repeatable parameter, each also split
// at commas, trimmed, empty ones dropped.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseTime parses an optional RFC 3339 time parameter.
func parseTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, api.Errorf(api.CodeInvalid, "%s=%q: want an RFC 3339 time such as 2025-01-02T15:04:05Z", name, v)
	}
	return t, nil
}

// parseLimit parses the limit parameter (1..1000, def when absent).
func parseLimit(q url.Values, def int) (int, error) {
	v := q.Get(api.QueryLimit)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, api.Errorf(api.CodeInvalid, "limit=%q: want a number from 1 to %d", v, maxLimit)
	}
	return n, nil
}

// parseTypes parses repeatable/comma type parameters.
func parseTypes(q url.Values) ([]api.SessionType, error) {
	var out []api.SessionType
	for _, v := range listParam(q, api.QueryType) {
		t, err := api.ParseSessionType(v)
		if err != nil {
			return nil, api.Errorf(api.CodeInvalid, "type: %v", err)
		}
		out = append(out, t)
	}
	return out, nil
}
