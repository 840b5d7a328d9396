package auth

import (
	"slices"

	"github.com/onepam/onepam/pkg/api"
)

// Action names something a principal may want to do.
type Action string

// The actions checked by the API and the session manager.
const (
	SessionsList    Action = "sessions.list"
	SessionsShow    Action = "sessions.show"
	SessionsReplay  Action = "sessions.replay"
	SessionsKill    Action = "sessions.kill"
	SessionsConnect Action = "sessions.connect"
	UsersList       Action = "users.list"
	UsersCreate     Action = "users.create"
	UsersDelete     Action = "users.delete"
	TokensList      Action = "tokens.list"
	TokensCreate    Action = "tokens.create"
	TokensRevoke    Action = "tokens.revoke"
	AgentsList      Action = "agents.list"
	AgentsEnroll    Action = "agents.enroll"
	AgentsRemove    Action = "agents.remove"
	PolicyList      Action = "policy.list"
	PolicyChange    Action = "policy.change"
	AuditList       Action = "audit.list"
	ResourcesList   Action = "resources.list"
	Whoami          Action = "whoami"
	SettingsShow    Action = "settings.show"
	SettingsChange  Action = "settings.change"
)

// grant says who may perform an action: All roles on any object, Own
// roles only on objects they own (their sessions, their tokens).
type grant struct {
	All []api.Role
	Own []api.Role
}

var (
	admin   = api.RoleAdmin
	auditor = api.RoleAuditor
	user    = api.RoleUser
)

// capabilities is the one table of what each role may do.
var capabilities = map[Action]grant{
	SessionsList:    {All: []api.Role{admin, auditor}, Own: []api.Role{user}},
	SessionsShow:    {All: []api.Role{admin, auditor}, Own: []api.Role{user}},
	SessionsReplay:  {All: []api.Role{admin, auditor}, Own: []api.Role{user}},
	SessionsKill:    {All: []api.Role{admin}},
	SessionsConnect: {Own: []api.Role{admin, user}}, // never auditor; policy decides the resource
	UsersList:       {All: []api.Role{admin}},
	UsersCreate:     {All: []api.Role{admin}},
	UsersDelete:     {All: []api.Role{admin}},
	TokensList:      {All: []api.Role{admin}, Own: []api.Role{auditor, user}},
	TokensCreate:    {All: []api.Role{admin}, Own: []api.Role{auditor, user}},
	TokensRevoke:    {All: []api.Role{admin}, Own: []api.Role{auditor, user}},
	AgentsList:      {All: []api.Role{admin}},
	AgentsEnroll:    {All: []api.Role{admin}},
	AgentsRemove:    {All: []api.Role{admin}},
	PolicyList:      {All: []api.Role{admin, auditor}},
	PolicyChange:    {All: []api.Role{admin}},
	AuditList:       {All: []api.Role{admin, auditor}},
	ResourcesList:   {All: []api.Role{admin, auditor, user}},
	Whoami:          {All: []api.Role{admin, auditor, user}},
	SettingsShow:    {All: []api.Role{admin, auditor}},
	SettingsChange:  {All: []api.Role{admin}},
}

// Scope is how far a permission reaches.
type Scope int

// The scopes.
const (
	ScopeNone Scope = iota // not allowed at all
	ScopeOwn               // only on the principal's own objects
	ScopeAll               // on every object
)

// ScopeOf returns how far role may perform action.
func ScopeOf(role api.Role, action Action) Scope {
	g, ok := capabilities[action]
	if !ok {
		return ScopeNone
	}
	if slices.Contains(g.All, role) {
		return ScopeAll
	}
	if slices.Contains(g.Own, role) {
		return ScopeOwn
	}
	return ScopeNone
}

// Check returns nil when p may perform action on an object owned by owner
// ("" for objects without owner, which own-scoped roles may not touch
// unless owner is p.User), and a CodeForbidden *api.Error otherwise.
func Check(p Principal, action Action, owner string) error {
	switch ScopeOf(p.Role, action) {
	case ScopeAll:
		return nil
	case ScopeOwn:
		if owner == p.User {
			return nil
		}
		return api.Errorf(api.CodeForbidden, "user %q (role %s) may %s only on its own objects, not on those of %q", p.User, p.Role, action, owner)
	}
	return api.Errorf(api.CodeForbidden, "role %s of user %q does not allow %s", p.Role, p.User, action)
}

// CheckAny returns nil when p may perform action at least on its own
// objects (used before listing, which is then narrowed to p's objects).
func CheckAny(p Principal, action Action) error {
	if ScopeOf(p.Role, action) == ScopeNone {
		return api.Errorf(api.CodeForbidden, "role %s of user %q does not allow %s", p.Role, p.User, action)
	}
	return nil
}
