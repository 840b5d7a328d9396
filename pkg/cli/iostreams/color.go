package iostreams

// ColorScheme wraps text in ANSI SGR sequences when enabled.
type ColorScheme struct{ enabled bool }

// Enabled reports whether the scheme colours text.
func (c *ColorScheme) Enabled() bool { return c.enabled }

func (c *ColorScheme) wrap(code, s string) string {
	if !c.enabled || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold makes s bold.
func (c *ColorScheme) Bold(s string) string { return c.wrap("1", s) }

// Green colours s green and bold (running things).
func (c *ColorScheme) Green(s string) string { return c.wrap("1;32", s) }

// Red colours s red (failures).
func (c *ColorScheme) Red(s string) string { return c.wrap("31", s) }

// Yellow colours s yellow (pending, warnings).
func (c *ColorScheme) Yellow(s string) string { return c.wrap("33", s) }

// Gray dims s (secondary information).
func (c *ColorScheme) Gray(s string) string { return c.wrap("90", s) }
