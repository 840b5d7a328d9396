// Package output prints command results in the one way the CLI has: an
// aligned, borderless table with a header row (the default) or indented
// JSON (-o json) whose field names are those of pkg/api. Lists always print
// a JSON array, never null.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"

	"github.com/spf13/cobra"
)

// Format is an output format chosen with -o.
type Format string

// The formats.
const (
	Table Format = "table"
	JSON  Format = "json"
)

// String implements pflag.Value.
func (f *Format) String() string {
	if *f == "" {
		return string(Table)
	}
	return string(*f)
}

// Set implements pflag.Value.
func (f *Format) Set(s string) error {
	switch Format(s) {
	case Table, JSON:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("unknown output format %q (want table or json)", s)
}

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// IsJSON reports whether f asks for JSON.
func (f Format) IsJSON() bool { return f == JSON }

// AddFormatFlag adds -o/--output table|json to cmd, stored in f.
func AddFormatFlag(cmd *cobra.Command, f *Format) {
	if *f == "" {
		*f = Table
	}
	cmd.Flags().VarP(f, "output", "o", "output format: table or json")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{string(Table), string(JSON)}, cobra.ShellCompDirectiveNoFileComp
	})
}

// Print writes v as indented JSON when f is JSON; otherwise it fills a
// table with fill and renders it. A nil slice prints as [].
func Print(w io.Writer, f Format, v any, fill func(t *TableWriter)) error {
	if f.IsJSON() {
		return WriteJSON(w, v)
	}
	t := NewTable(w)
	fill(t)
	return t.Render()
}

// WriteJSON writes v as indented JSON followed by a newline. A nil slice
// prints as [].
func WriteJSON(w io.Writer, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = reflect.MakeSlice(rv.Type(), 0, 0).Interface()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
