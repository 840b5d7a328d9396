// Package cmdutil holds what every CLI command shares: the Factory that
// lazily provides the configuration and the API client, the one mapping
// from errors to exit codes and one-line messages, and flag parsing helpers.
package cmdutil
