package dbcred

import "sort"

// Names returns the keys of users (database user name → its settings),
// sorted: the order the proxies list configured users in, in messages and
// redacted String/LogValue output.
func Names[U any](users map[string]U) []string {
	names := make([]string, 0, len(users))
	for n := range users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
