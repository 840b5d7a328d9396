// Package cli is the onepam command line: connecting to resources through
// control, listing, showing, killing and replaying sessions, the admin
// verbs (users, tokens, policy, agents, audit), `onepam control serve` and
// `onepam dev`.
//
// Each command is built by a NewCmdX(f, runF) function that turns flags and
// arguments into an options struct, and a runX(ctx, opts) function that
// does the work, writing only through the options' IOStreams. Passing runF
// replaces runX (tests of flag parsing). Errors are mapped to exit codes in
// one place, cmdutil.Classify.
package cli
