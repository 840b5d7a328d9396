package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/onepam/onepam/control/auth"
	"github.com/onepam/onepam/control/policy"
	"github.com/onepam/onepam/control/store"
	"github.com/onepam/onepam/pkg/api"
)

func (h *handler) listPolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.PolicyList, "") {
		return
	}
	rules, err := h.cfg.Store.ListPolicyRules(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if rules == nil {
		rules = []api.PolicyRule{}
	}
	writeJSON(w, http.StatusOK, rules)
}

// prepareRule validates a rule and gives it an id and creation time.
func (h *handler) prepareRule(rule *api.PolicyRule) error {
	if err := policy.Validate(*rule); err != nil {
		return api.Errorf(api.CodeInvalid, "bad policy rule: %v", err)
	}
	if rule.ID == "" {
		rule.ID = newID()
	}
	if rule.CreatedAt.IsZero() {
		rule.CreatedAt = h.cfg.Clock().UTC()
	}
	return nil
}

func (h *handler) addPolicyRule(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.PolicyChange, "") {
		return
	}
	var rule api.PolicyRule
	if err := decodeJSON(w, r, &rule); err != nil {
		h.writeError(w, r, err)
		return
	}
	rule.ID = ""
	if err := h.prepareRule(&rule); err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.cfg.Store.AddPolicyRule(r.Context(), rule); err != nil {
		h.audit(r.Context(), r, p, "policy.add", rule.ID, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "policy.add", rule.ID, api.OutcomeSuccess, "", map[string]string{"subject": rule.Subject})
	writeJSON(w, http.StatusCreated, rule)
}

func (h *handler) replacePolicy(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.PolicyChange, "") {
		return
	}
	var file api.PolicyFile
	if err := decodeJSON(w, r, &file); err != nil {
		h.writeError(w, r, err)
		return
	}
	seen := map[string]bool{}
	for i := range file.Rules {
		if err := h.prepareRule(&file.Rules[i]); err != nil {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "rule %d: %v", i+1, err))
			return
		}
		if seen[file.Rules[i].ID] {
			h.writeError(w, r, api.Errorf(api.CodeInvalid, "rule %d: duplicate id %q", i+1, file.Rules[i].ID))
			return
		}
		seen[file.Rules[i].ID] = true
	}
	if file.Rules == nil {
		file.Rules = []api.PolicyRule{}
	}
	if err := h.cfg.Store.ReplacePolicy(r.Context(), file.Rules); err != nil {
		h.audit(r.Context(), r, p, "policy.replace", "policy", api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "policy.replace", "policy", api.OutcomeSuccess, fmt.Sprintf("%d rules", len(file.Rules)), nil)
	writeJSON(w, http.StatusOK, file)
}

func (h *handler) deletePolicyRule(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if !h.check(w, r, p, auth.PolicyChange, "") {
		return
	}
	id := r.PathValue("id")
	if err := h.cfg.Store.DeletePolicyRule(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			err = notFound("policy rule", id)
		}
		h.audit(r.Context(), r, p, "policy.remove", id, api.OutcomeError, err.Error(), nil)
		h.writeError(w, r, err)
		return
	}
	h.audit(r.Context(), r, p, "policy.remove", id, api.OutcomeSuccess, "", nil)
	w.WriteHeader(http.StatusNoContent)
}
