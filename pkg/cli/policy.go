package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/cli/output"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

func newCmdPolicy(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("policy", "Manage who may connect to which resources (admin)", `  onepam policy ls
  onepam policy add --subject role:user --resource 'web-*' --type tcp --label env=dev
  onepam policy rm 0197...
  onepam policy apply -f policy.yaml`)
	cmd.AddCommand(NewCmdPolicyList(f, nil), NewCmdPolicyAdd(f, nil), NewCmdPolicyRemove(f, nil), NewCmdPolicyApply(f, nil))
	return cmd
}

// PolicyListOptions are the options of `onepam policy ls`.
type PolicyListOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
}

// NewCmdPolicyList returns `onepam policy ls`.
func NewCmdPolicyList(f *cmdutil.Factory, runF func(context.Context, *PolicyListOptions) error) *cobra.Command {
	opts := &PolicyListOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List policy rules",
		Example: `  onepam policy ls
  onepam policy ls -o json > policy.json`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPolicyList(cmd.Context(), opts)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runPolicyList(ctx context.Context, opts *PolicyListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rules, err := c.ListPolicy(ctx)
	if err != nil {
		return err
	}
	return output.Print(opts.IO.Out, opts.Format, rules, func(t *output.TableWriter) {
		t.Header("ID", "SUBJECT", "RESOURCES", "TYPES", "LABELS", "LOGINS", "DESCRIPTION")
		for _, r := range rules {
			types := make([]string, len(r.Types))
			for i, ty := range r.Types {
				types[i] = string(ty)
			}
			t.Row(r.ID, r.Subject, listOr(r.Resources, "*"), listOr(types, "*"), output.Labels(r.Labels), listOr(r.Logins, "-"), output.Dash(r.Description))
		}
	})
}

func listOr(v []string, empty string) string {
	if len(v) == 0 {
		return empty
	}
	return strings.Join(v, ",")
}

// PolicyAddOptions are the options of `onepam policy add`.
type PolicyAddOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	Format output.Format
	Rule   api.PolicyRule
}

// NewCmdPolicyAdd returns `onepam policy add`.
func NewCmdPolicyAdd(f *cmdutil.Factory, runF func(context.Context, *PolicyAddOptions) error) *cobra.Command {
	opts := &PolicyAddOptions{IO: f.IOStreams, Client: f.Client}
	var types, labels []string
	cmd := &cobra.Command{
		Use:   "add --subject role:ROLE|user:NAME [--resource GLOB]... [--type T]... [--label k=v]... [--login GLOB]... [--database GLOB]...",
		Short: "Allow a role or a user to connect to resources",
		Long: `Add a rule allowing a subject (role:admin, role:auditor, role:user or
user:NAME) to connect to resources selected by name globs, session types
and labels, with the given target logins. Omitted selectors match
everything; without --login only sessions without a login (tcp) match.`,
		Example: `  # users may reach every dev TCP service
  onepam policy add --subject role:user --type tcp --label env=dev
  # bob may use the staging databases as app or readonly
  onepam policy add --subject user:bob --resource 'pg-staging-*' --type db --login app --login readonly
  # ... and only the orders database
  onepam policy add --subject user:bob --resource pg --login app --database orders`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkSubject(opts.Rule.Subject); err != nil {
				return err
			}
			ts, err := cmdutil.ParseTypes(types)
			if err != nil {
				return err
			}
			opts.Rule.Types = ts
			if opts.Rule.Labels, err = cmdutil.ParseLabels("label", labels); err != nil {
				return err
			}
			opts.Rule.Resources = cmdutil.SplitList(opts.Rule.Resources)
			opts.Rule.Logins = cmdutil.SplitList(opts.Rule.Logins)
			opts.Rule.Databases = cmdutil.SplitList(opts.Rule.Databases)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPolicyAdd(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Rule.Subject, "subject", "", "role:admin|auditor|user or user:NAME (required)")
	cmd.Flags().StringArrayVar(&opts.Rule.Resources, "resource", nil, "resource name glob (repeatable; default any)")
	cmd.Flags().StringArrayVar(&types, "type", nil, "session type: ssh, rdp, vnc, db, http, tcp (repeatable; default any)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "required resource label k=v, v may be * (repeatable)")
	cmd.Flags().StringArrayVar(&opts.Rule.Logins, "login", nil, "allowed target login glob (repeatable; * = any)")
	cmd.Flags().StringArrayVar(&opts.Rule.Databases, "database", nil, "db sessions: allowed database name glob (repeatable; default any)")
	cmd.Flags().StringVar(&opts.Rule.Description, "description", "", "what the rule is for")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func checkSubject(s string) error {
	kind, name, ok := strings.Cut(s, ":")
	switch {
	case s == "":
		return cmdutil.FlagErrorf("--subject is required: role:admin|auditor|user or user:NAME")
	case !ok || name == "":
		return cmdutil.FlagErrorf("--subject %q: want role:ROLE or user:NAME", s)
	case kind == "role":
		if _, err := api.ParseRole(name); err != nil {
			return &cmdutil.FlagError{Err: err}
		}
	case kind != "user":
		return cmdutil.FlagErrorf("--subject %q: want role:ROLE or user:NAME", s)
	}
	return nil
}

func runPolicyAdd(ctx context.Context, opts *PolicyAddOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rule, err := c.AddPolicyRule(ctx, opts.Rule)
	if err != nil {
		return err
	}
	if opts.Format.IsJSON() {
		return output.WriteJSON(opts.IO.Out, rule)
	}
	_, err = fmt.Fprintf(opts.IO.Out, "added rule %s for %s\n", rule.ID, rule.Subject)
	return err
}

// PolicyRemoveOptions are the options of `onepam policy rm`.
type PolicyRemoveOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	ID     string
}

// NewCmdPolicyRemove returns `onepam policy rm`.
func NewCmdPolicyRemove(f *cmdutil.Factory, runF func(context.Context, *PolicyRemoveOptions) error) *cobra.Command {
	opts := &PolicyRemoveOptions{IO: f.IOStreams, Client: f.Client}
	return &cobra.Command{
		Use:     "rm ID",
		Aliases: []string{"remove", "delete"},
		Short:   "Remove a policy rule",
		Example: `  onepam policy rm 0197a1b2-...`,
		Args:    cmdutil.ExactArgs(1, "the rule's ID (see onepam policy ls)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPolicyRemove(cmd.Context(), opts)
		},
	}
}

func runPolicyRemove(ctx context.Context, opts *PolicyRemoveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.DeletePolicyRule(ctx, opts.ID); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "removed rule %s\n", opts.ID)
	return err
}

// PolicyApplyOptions are the options of `onepam policy apply`.
type PolicyApplyOptions struct {
	IO     *iostreams.IOStreams
	Client ClientFunc
	File   string // path, or "-" for standard input
}

// NewCmdPolicyApply returns `onepam policy apply`.
func NewCmdPolicyApply(f *cmdutil.Factory, runF func(context.Context, *PolicyApplyOptions) error) *cobra.Command {
	opts := &PolicyApplyOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Replace every policy rule with those of a YAML or JSON file",
		Long: `Replace every policy rule with the rules of a file (YAML or JSON; "-" reads
standard input):

  rules:
    - subject: role:admin
      resources: ["*"]
      logins: ["*"]
    - subject: role:user
      types: [tcp]
      labels: {env: dev}
      description: developers reach dev services`,
		Example: `  onepam policy apply -f policy.yaml
  onepam policy ls -o json | jq '{rules: .}' | onepam policy apply -f -`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.File == "" {
				return cmdutil.FlagErrorf("policy apply needs -f FILE")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPolicyApply(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "file", "f", "", "policy file (YAML or JSON; - for standard input)")
	return cmd
}

func runPolicyApply(ctx context.Context, opts *PolicyApplyOptions) error {
	var raw []byte
	var err error
	if opts.File == "-" {
		raw, err = io.ReadAll(io.LimitReader(opts.IO.In, 16<<20))
	} else {
		raw, err = os.ReadFile(opts.File)
	}
	if err != nil {
		return fmt.Errorf("read policy file: %w", err)
	}
	pf, err := ParsePolicyFile(raw)
	if err != nil {
		return fmt.Errorf("policy file %s: %w", opts.File, err)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if err := c.ApplyPolicy(ctx, pf); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "applied %d policy rules\n", len(pf.Rules))
	return err
}

// policyRuleYAML is a PolicyRule as written in a YAML policy file, with the
// same snake_case names as its JSON form.
type policyRuleYAML struct {
	ID          string            `yaml:"id"`
	Subject     string            `yaml:"subject"`
	Resources   []string          `yaml:"resources"`
	Types       []string          `yaml:"types"`
	Labels      map[string]string `yaml:"labels"`
	Logins      []string          `yaml:"logins"`
	Databases   []string          `yaml:"databases"`
	Description string            `yaml:"description"`
	CreatedAt   time.Time         `yaml:"created_at"`
}

// ParsePolicyFile parses a policy file: JSON when it starts with "{",
// YAML otherwise. Unknown fields and bad subjects or types are errors.
func ParsePolicyFile(raw []byte) (api.PolicyFile, error) {
	var pf api.PolicyFile
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&pf); err != nil {
			return pf, fmt.Errorf("bad JSON: %w", err)
		}
	} else {
		var doc struct {
			Rules []policyRuleYAML `yaml:"rules"`
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&doc); err != nil && err != io.EOF {
			return pf, fmt.Errorf("bad YAML: %w", err)
		}
		for _, r := range doc.Rules {
			rule := api.PolicyRule{ID: r.ID, Subject: r.Subject, Resources: r.Resources, Labels: r.Labels, Logins: r.Logins, Databases: r.Databases, Description: r.Description, CreatedAt: r.CreatedAt}
			for _, t := range r.Types {
				rule.Types = append(rule.Types, api.SessionType(t))
			}
			pf.Rules = append(pf.Rules, rule)
		}
	}
	for i, r := range pf.Rules {
		if err := checkSubject(r.Subject); err != nil {
			return pf, fmt.Errorf("rule %d: %w", i+1, err)
		}
		for _, t := range r.Types {
			if !t.Valid() {
				return pf, fmt.Errorf("rule %d: unknown session type %q (want one of ssh, rdp, vnc, db, http, tcp)", i+1, t)
			}
		}
	}
	return pf, nil
}
