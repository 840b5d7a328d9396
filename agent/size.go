package agent

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultSpoolLimit is the recording spool's default size limit.
const DefaultSpoolLimit = 10 << 30

// ParseSize parses a size such as "10GiB", "500MB", "1048576" or "0"
// (binary units KiB, MiB, GiB, TiB; decimal kB, MB, GB, TB; B or none for
// bytes).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12}[strings.ToLower(unit)]
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || f < 0 || f*mult > 1<<62 {
		return 0, fmt.Errorf("bad size %q (want e.g. 10GiB, 500MB or a number of bytes)", s)
	}
	return int64(f * mult), nil
}
