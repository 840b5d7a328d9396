package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

const resourceCols = `r.name, r.type, r.labels, r.description, r.address, r.protocol, r.agent_id, a.name`

// SetAgentResources replaces the agent's inventory in one transaction.
// Names served by another non-revoked agent, repeated names, empty names
// and unknown types are refused and reported in the map (name → reason);
// the rest are stored. The agent must exist and not be revoked.
//
// Where the dialect locks rows, the transaction locks the agent's row and
// takes the dialect's resources lock, so inventories of several agents,
// sent to several control nodes at once, are applied one after the other
// and a name cannot be taken twice.
func (s *Core) SetAgentResources(ctx context.Context, agentID string, rs []api.Resource) (map[string]string, error) {
	refused := map[string]string{}
	err := s.InTx(ctx, func(tx Tx) error {
		var revoked sql.NullInt64
		if s.d.ResourcesLock != "" {
			if _, err := tx.ExecContext(ctx, s.d.ResourcesLock); err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM agents WHERE id = ?`+s.d.ForUpdate, agentID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("agent %q: %w", agentID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if revoked.Valid {
			return fmt.Errorf("agent %q is revoked: %w", agentID, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM resources WHERE agent_id = ?`, agentID); err != nil {
			return err
		}
		owner, err := tx.PrepareContext(ctx, `SELECT a.name, a.id, a.revoked_at IS NOT NULL FROM resources r
			JOIN agents a ON a.id = r.agent_id WHERE r.name = ?`)
		if err != nil {
			return err
		}
		defer owner.Close()
		ins, err := tx.PrepareContext(ctx, s.d.UpsertResource)
		if err != nil {
			return err
		}
		defer ins.Close()
		seen := map[string]bool{}
		for _, r := range rs {
			switch {
			case r.Name == "":
				refused[r.Name] = "empty resource name"
				continue
			case seen[r.Name]:
				refused[r.Name] = "announced twice in the inventory"
				continue
			case !r.Type.Valid():
				refused[r.Name] = fmt.Sprintf("unknown type %q", r.Type)
				continue
			}
			seen[r.Name] = true
			var ownerName, ownerID string
			var ownerRevoked bool
			err := owner.QueryRowContext(ctx, r.Name).Scan(&ownerName, &ownerID, &ownerRevoked)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case !ownerRevoked && ownerID != agentID:
				refused[r.Name] = fmt.Sprintf("already served by agent %q", ownerName)
				continue
			}
			labels, err := ToJSON(r.Labels, "{}")
			if err != nil {
				return err
			}
			if _, err := ins.ExecContext(ctx, r.Name, agentID, string(r.Type), labels, r.Description, r.Address, r.Protocol); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set resources of agent %q: %w", agentID, err)
	}
	return refused, nil
}

// ListResources returns the resources matching f, by name. Online is left
// false: whether an agent is connected is not stored.
func (s *Core) ListResources(ctx context.Context, f store.ResourceFilter) ([]store.ResourceRecord, error) {
	var (
		where []string
		args  []any
	)
	if len(f.Types) > 0 {
		types := make([]string, len(f.Types))
		for i, t := range f.Types {
			types[i] = string(t)
		}
		cond, a := s.d.In("r.type", types)
		where = append(where, cond)
		args = append(args, a...)
	}
	if len(f.Labels) > 0 {
		conds, a, err := s.d.HasLabels("r.labels", f.Labels)
		if err != nil {
			return nil, fmt.Errorf("list resources: %w", err)
		}
		where = append(where, conds...)
		args = append(args, a...)
	}
	if f.Agent != "" {
		where = append(where, `r.agent_id = ?`)
		args = append(args, f.Agent)
	}
	q := `SELECT ` + resourceCols + ` FROM resources r JOIN agents a ON a.id = r.agent_id`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY r.name`
	return queryAll(ctx, s.read, "list resources", scanResource, q, args...)
}

// GetResource returns one resource by name.
func (s *Core) GetResource(ctx context.Context, name string) (store.ResourceRecord, error) {
	r, err := scanResource(s.read.QueryRowContext(ctx, `SELECT `+resourceCols+`
		FROM resources r JOIN agents a ON a.id = r.agent_id WHERE r.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ResourceRecord{}, fmt.Errorf("resource %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.ResourceRecord{}, fmt.Errorf("get resource %q: %w", name, err)
	}
	return r, nil
}

func scanResource(r rowScanner) (store.ResourceRecord, error) {
	var (
		rec    store.ResourceRecord
		typ    string
		labels string
	)
	if err := r.Scan(&rec.Name, &typ, &labels, &rec.Description, &rec.Address, &rec.Protocol, &rec.AgentID, &rec.Agent); err != nil {
		return store.ResourceRecord{}, err
	}
	rec.Type = api.SessionType(typ)
	rec.Labels = map[string]string{}
	if err := FromJSON(labels, &rec.Labels); err != nil {
		return store.ResourceRecord{}, err
	}
	return rec, nil
}
