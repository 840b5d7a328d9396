// Package policy decides whether a principal may connect to a resource with
// a given login, from the policy rules stored by control.
//
// A connection is allowed when at least one rule matches it. A rule
// matches when all of these hold:
//
//   - its Subject is "role:<the principal's role>" or "user:<the principal's name>";
//   - one of its Resources globs (path.Match syntax) matches the resource
//     name (an empty list or "*" matches every name);
//   - its Types is empty or contains the resource's type;
//   - every one of its Labels is present on the resource with the same
//     value, or with any value when the rule's value is "*";
//   - the login is allowed: an empty Logins list allows only the empty
//     login (types without logins, like tcp); otherwise one of the globs
//     must match the login ("*" matches any login, including "").
//
// Admins are subject to rules like everyone else; control seeds a rule
// "role:admin may use everything" on first start.
package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/pkg/api"
)

// Access is what a person asks of a resource besides the resource itself.
type Access struct {
	Login    string // target login (ssh user, database user); "" = none or the default
	Database string // database name for db sessions; "" = the resource's default
}

// Allowed reports whether p may connect to res as a asks. When not, reason
// is one line a person understands, naming the way out.
func Allowed(rules []api.PolicyRule, p auth.Principal, res api.Resource, a Access) (ok bool, reason string) {
	login := a.Login
	subjects := 0
	for _, r := range rules {
		if !subjectMatches(r.Subject, p) {
			continue
		}
		subjects++
		if matchesResource(r, res) && loginAllowed(r.Logins, login) && databaseAllowed(r.Databases, a.Database) {
			return true, ""
		}
	}
	if a.Database != "" {
		login += `" and database "` + a.Database
	}
	why := "no rule matches"
	if subjects == 0 {
		why = fmt.Sprintf("no rule applies to user %q or role %s", p.User, p.Role)
	}
	return false, fmt.Sprintf("policy denies user %q access to resource %q (type %s) with login %q: %s; ask an admin to add one with onepam policy add",
		p.User, res.Name, res.Type, login, why)
}

func subjectMatches(subject string, p auth.Principal) bool {
	kind, name, ok := strings.Cut(subject, ":")
	if !ok {
		return false
	}
	switch kind {
	case "role":
		return name == string(p.Role)
	case "user":
		return name == p.User
	}
	return false
}

func matchesResource(r api.PolicyRule, res api.Resource) bool {
	if len(r.Resources) > 0 && !anyGlob(r.Resources, res.Name) {
		return false
	}
	if len(r.Types) > 0 && !slices.Contains(r.Types, res.Type) {
		return false
	}
	for k, want := range r.Labels {
		got, ok := res.Labels[k]
		if !ok || (want != "*" && got != want) {
			return false
		}
	}
	return true
}

func loginAllowed(logins []string, login string) bool {
	if len(logins) == 0 {
		return login == ""
	}
	return anyGlob(logins, login)
}

// databaseAllowed: empty Databases allow any database.
func databaseAllowed(dbs []string, db string) bool {
	return len(dbs) == 0 || anyGlob(dbs, db)
}

func anyGlob(globs []string, s string) bool {
	for _, g := range globs {
		if g == "*" {
			return true
		}
		if ok, err := path.Match(g, s); err == nil && ok {
			return true
		}
	}
	return false
}

// Validate checks a rule as written by a person and returns an error that
// says what is wrong with it.
func Validate(r api.PolicyRule) error {
	kind, name, ok := strings.Cut(r.Subject, ":")
	switch {
	case !ok || name == "":
		return fmt.Errorf("subject %q: want role:<role> or user:<name>", r.Subject)
	case kind == "role":
		if _, err := api.ParseRole(name); err != nil {
			return fmt.Errorf("subject %q: %w", r.Subject, err)
		}
	case kind != "user":
		return fmt.Errorf("subject %q: want role:<role> or user:<name>", r.Subject)
	}
	for _, g := range r.Resources {
		if err := checkGlob(g); err != nil {
			return fmt.Errorf("resource glob %q: %w", g, err)
		}
	}
	for _, g := range r.Logins {
		if err := checkGlob(g); err != nil {
			return fmt.Errorf("login glob %q: %w", g, err)
		}
	}
	for _, t := range r.Types {
		if !t.Valid() {
			return fmt.Errorf("type %q: want one of ssh, rdp, vnc, db, http, tcp", t)
		}
	}
	for k := range r.Labels {
		if k == "" {
			return fmt.Errorf("empty label key")
		}
	}
	return nil
}

func checkGlob(g string) error {
	if g == "" {
		return fmt.Errorf("empty pattern")
	}
	if _, err := path.Match(g, ""); err != nil {
		return err
	}
	return nil
}
