package postgres_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/control/store/postgres"
	"github.com/onepam/onepam/control/store/postgres/pgtest"
	"github.com/onepam/onepam/pkg/api"
)

// TestNodes runs the writes that read before they write from several
// stores on one database at once, as control nodes sharing it do: each
// must behave as if the stores were one.
func TestNodes(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	const nodes = 4
	var ns []*postgres.Store
	for range nodes {
		s, err := postgres.Open(ctx, url, postgres.WithMaxConns(4))
		mustT(t, err)
		t.Cleanup(func() { s.Close() })
		ns = append(ns, s)
	}
	// all runs f(i) for every node at once.
	all := func(f func(i int, s *postgres.Store) error) []error {
		errs := make([]error, nodes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range ns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = f(i, s)
			}()
		}
		close(start)
		wg.Wait()
		return errs
	}

	t.Run("one-transition-wins", func(t *testing.T) {
		for round := range 10 {
			sess := api.Session{ID: store.NewID(), User: "alice", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo"}
			mustT(t, ns[0].CreateSession(ctx, sess))
			errs := all(func(i int, s *postgres.Store) error {
				to := api.StatusActive
				if i%2 == 1 {
					to = api.StatusFailed
				}
				_, err := s.Transition(ctx, sess.ID, store.Transition{To: to, Detail: fmt.Sprint("node ", i)})
				return err
			})
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, api.ErrIllegalTransition):
					t.Fatalf("round %d node %d: %v", round, i, err)
				}
			}
			got, err := ns[1].GetSession(ctx, sess.ID)
			mustT(t, err)
			// pending→active and pending→failed race; active→failed is
			// legal too, so one or two moves win, each with its event.
			if won < 1 || len(got.Timeline) != 1+won {
				t.Fatalf("round %d: %d moves won, timeline %+v", round, won, got.Timeline)
			}
		}
	})

	t.Run("replace-policy-is-not-mixed", func(t *testing.T) {
		errs := all(func(i int, s *postgres.Store) error {
			var rules []api.PolicyRule
			for k := range 3 {
				rules = append(rules, api.PolicyRule{ID: fmt.Sprintf("n%d-r%d", i, k), Subject: fmt.Sprintf("user:n%d", i)})
			}
			return s.ReplacePolicy(ctx, rules)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("node %d: %v", i, err)
			}
		}
		rules, err := ns[0].ListPolicyRules(ctx)
		mustT(t, err)
		if len(rules) != 3 || rules[0].Subject != rules[1].Subject || rules[1].Subject != rules[2].Subject {
			t.Fatalf("policy after concurrent replacements: %+v", rules)
		}
	})

	t.Run("a-resource-name-has-one-agent", func(t *testing.T) {
		for i, s := range ns {
			mustT(t, s.CreateAgent(ctx, store.AgentRecord{ID: fmt.Sprint("agent-", i), Name: fmt.Sprint("host-", i), EnrolledAt: time.Now()}))
		}
		refused := make([]map[string]string, nodes)
		errs := all(func(i int, s *postgres.Store) error {
			var err error
			refused[i], err = s.SetAgentResources(ctx, fmt.Sprint("agent-", i), []api.Resource{
				{Name: "shared-db", Type: api.TypeDB}, {Name: fmt.Sprint("own-", i), Type: api.TypeTCP}})
			return err
		})
		owners := 0
		for i, err := range errs {
			mustT(t, err)
			if _, ok := refused[i]["shared-db"]; !ok {
				owners++
			}
		}
		rs, err := ns[0].ListResources(ctx, store.ResourceFilter{})
		mustT(t, err)
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.Name
		}
		if owners != 1 || !slices.Equal(names, []string{"own-0", "own-1", "own-2", "own-3", "shared-db"}) {
			t.Fatalf("%d owners of shared-db; resources %v", owners, names)
		}
	})

	t.Run("byte-counts-add-up", func(t *testing.T) {
		sess := api.Session{ID: store.NewID(), User: "alice", Type: api.TypeTCP, Status: api.StatusPending, Resource: "echo"}
		mustT(t, ns[0].CreateSession(ctx, sess))
		all(func(i int, s *postgres.Store) error {
			for range 25 {
				if err := s.AddSessionBytes(ctx, sess.ID, 1, 2); err != nil {
					t.Errorf("node %d: %v", i, err)
				}
			}
			return nil
		})
		got, err := ns[3].GetSession(ctx, sess.ID)
		mustT(t, err)
		if got.BytesUp != 25*nodes || got.BytesDown != 50*nodes {
			t.Fatalf("bytes %d/%d, want %d/%d", got.BytesUp, got.BytesDown, 25*nodes, 50*nodes)
		}
	})
}
