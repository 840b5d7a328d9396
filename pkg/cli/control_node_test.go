package cli

import (
	"os"
	"path/filepath"
	"testing"
)

func TestServeNodeSettings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "control.yaml")
	if err := os.WriteFile(file, []byte("node_id: file-id\nnode_name: file.example.com\nadvertise_url: https://file.example.com:7443\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		args          []string
		env           map[string]string
		id, host, url string
	}{
		{"defaults: control picks them", nil, nil, "", "", ""},
		{"flags", []string{"--node-id", "control-1", "--node-name", "c1.example.com", "--advertise-url", "https://c1.example.com:7443"}, nil,
			"control-1", "c1.example.com", "https://c1.example.com:7443"},
		{"env", nil, map[string]string{"ONEPAM_NODE_ID": "env-id", "ONEPAM_NODE_NAME": "env.example.com", "ONEPAM_ADVERTISE_URL": "https://10.0.0.7:7443"},
			"env-id", "env.example.com", "https://10.0.0.7:7443"},
		{"file", []string{"--config", file}, nil, "file-id", "file.example.com", "https://file.example.com:7443"},
		{"env over file", []string{"--config", file}, map[string]string{"ONEPAM_NODE_ID": "env-id", "ONEPAM_ADVERTISE_URL": "https://env:1"},
			"env-id", "file.example.com", "https://env:1"},
		{"flag over env", []string{"--node-name", "flag.example.com", "--advertise-url", "https://flag:2"},
			map[string]string{"ONEPAM_NODE_NAME": "env.example.com", "ONEPAM_ADVERTISE_URL": "https://env:1"}, "", "flag.example.com", "https://flag:2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if got.NodeID != tc.id || got.NodeName != tc.host || got.AdvertiseURL != tc.url {
				t.Fatalf("node %q %q %q, want %q %q %q", got.NodeID, got.NodeName, got.AdvertiseURL, tc.id, tc.host, tc.url)
			}
		})
	}
}
