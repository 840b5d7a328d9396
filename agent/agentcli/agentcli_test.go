package agentcli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/agent/agenttest"
)

func TestVersionAndHelp(t *testing.T) {
	tests := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"version"}, ExitOK, "onepam-agent dev"},
		{[]string{"--help"}, ExitOK, "Examples:"},
		{[]string{"run", "--help"}, ExitOK, "ONEPAM_AGENT_CONTROL"},
		{[]string{"completion", "bash"}, ExitOK, "bash completion"},
		{[]string{"run", "--bogus"}, ExitUsage, "unknown flag"},
		{[]string{"run", "--log-format", "xml"}, ExitUsage, "bad --log-format"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := Execute(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.out) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, out.String(), tt.code, tt.out)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yaml")
	os.WriteFile(file, []byte("name: from-file\ncontrol: file:1\ndata_dir: /file\nresources:\n  - {name: r, url: 'tcp://127.0.0.1:9'}\n"), 0o600)
	t.Setenv("ONEPAM_AGENT_CONTROL", "env:2")
	cmd := newRunCmd(&bytes.Buffer{})
	if err := cmd.ParseFlags([]string{"--config", file, "--name", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	v, err := newViper(cmd)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configFrom(v)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-flag" || cfg.ControlAddr != "env:2" || cfg.DataDir != "/file" || len(cfg.Resources) != 1 {
		t.Fatalf("config %+v", cfg)
	}
}

func TestRunEnrollsAndStopsCleanly(t *testing.T) {
	srv, err := agenttest.NewServer(agenttest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"run", "--control", srv.Addr(), "--token", srv.Token(), "--data-dir", t.TempDir(), "--log-format", "json"}, &out, &out)
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if _, err := srv.WaitAgent(wctx); err != nil {
		t.Fatal(err)
	}
	cancel() // what SIGINT/SIGTERM do
	select {
	case code := <-done:
		if code != ExitOK || !strings.Contains(out.String(), `"msg":"onepam-agent stopped"`) {
			t.Fatalf("exit %d, output:\n%s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}
