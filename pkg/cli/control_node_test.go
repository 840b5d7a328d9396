package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestServeNodeSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control.yaml")
	if err := os.WriteFile(file, []byte("node_id: file-id\nnode_name: file.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		id, host string
	}{
		{"defaults: control picks them", nil, nil, "", ""},
		{"flags", []string{"--node-id", "control-1", "--node-name", "c1.example.com"}, nil, "control-1", "c1.example.com"},
		{"env", nil, map[string]string{"ONEPAM_NODE_ID": "env-id", "ONEPAM_NODE_NAME": "env.example.com"}, "env-id", "env.example.com"},
		{"file", []string{"--config", file}, nil, "file-id", "file.example.com"},
		{"env over file", []string{"--config", file}, map[string]string{"ONEPAM_NODE_ID": "env-id"}, "env-id", "file.example.com"},
		{"flag over env", []string{"--node-name", "flag.example.com"}, map[string]string{"ONEPAM_NODE_NAME": "env.example.com"}, "", "flag.example.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got.NodeID != tc.id || got.NodeName != tc.host {
				t.Fatalf("node %q %q, want %q %q", got.NodeID, got.NodeName, tc.id, tc.host)
			}
		})
	}
}
