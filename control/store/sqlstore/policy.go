package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

// AddPolicyRule appends a rule. An empty ID gets a new one; a zero
// CreatedAt gets the clock's time. ErrConflict if the id exists.
func (s *Core) AddPolicyRule(ctx context.Context, r api.PolicyRule) error {
	if err := s.insertRule(ctx, s.write, r); err != nil {
		return fmt.Errorf("add policy rule: %w", err)
	}
	return nil
}

// ListPolicyRules returns every rule in the order they were added.
func (s *Core) ListPolicyRules(ctx context.Context) ([]api.PolicyRule, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, subject, resources, types, labels, logins, databases, description, created_at
		FROM policy_rules ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list policy rules: %w", err)
	}
	defer rows.Close()
	var rules []api.PolicyRule
	for rows.Next() {
		var (
			r                                          api.PolicyRule
			resources, types, labels, login, databases string
			created                                    int64
		)
		if err := rows.Scan(&r.ID, &r.Subject, &resources, &types, &labels, &login, &databases, &r.Description, &created); err != nil {
			return nil, fmt.Errorf("list policy rules: %w", err)
		}
		r.CreatedAt = FromNanos(created)
		for _, c := range []struct {
			s string
			v any
		}{{resources, &r.Resources}, {types, &r.Types}, {labels, &r.Labels}, {login, &r.Logins}, {databases, &r.Databases}} {
			if err := FromJSON(c.s, c.v); err != nil {
				return nil, fmt.Errorf("policy rule %s: %w", r.ID, err)
			}
		}
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list policy rules: %w", err)
	}
	return rules, nil
}

// DeletePolicyRule removes one rule.
func (s *Core) DeletePolicyRule(ctx context.Context, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM policy_rules WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete policy rule %q: %w", id, err)
	}
	n, err := Affected(res)
	if err != nil {
		return fmt.Errorf("delete policy rule %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("policy rule %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// ReplacePolicy replaces every rule with rules, in their order, in one
// transaction: on any error (e.g. two rules with one id) nothing changes.
// Where the dialect locks tables, the table is locked against other
// writers (readers go on) for the transaction, so replacements from
// several nodes apply one after the other, never mixed.
func (s *Core) ReplacePolicy(ctx context.Context, rules []api.PolicyRule) error {
	err := s.InTx(ctx, func(tx Tx) error {
		if lock := s.d.lockTable("policy_rules"); lock != "" {
			if _, err := tx.ExecContext(ctx, lock); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM policy_rules`); err != nil {
			return err
		}
		for _, r := range rules {
			if err := s.insertRule(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace policy: %w", err)
	}
	return nil
}

// execer is what both *sql.DB and *sql.Tx offer for writes.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Core) insertRule(ctx context.Context, db execer, r api.PolicyRule) error {
	if r.ID == "" {
		r.ID = store.NewID()
	}
	if r.Subject == "" {
		return fmt.Errorf("rule %q: %w: empty subject", r.ID, store.ErrInvalid)
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	var cols [5]string
	for i, v := range []any{r.Resources, r.Types, r.Labels, r.Logins, r.Databases} {
		empty := "[]"
		if i == 2 {
			empty = "{}"
		}
		j, err := ToJSON(v, empty)
		if err != nil {
			return err
		}
		cols[i] = j
	}
	_, err := db.ExecContext(ctx, `INSERT INTO policy_rules (id, subject, resources, types, labels, logins, databases, description, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Subject, cols[0], cols[1], cols[2], cols[3], cols[4], r.Description, Nanos(r.CreatedAt))
	if s.d.IsUnique(err) {
		return fmt.Errorf("rule %q: %w", r.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("rule %q: %w", r.ID, err)
	}
	return nil
}
