package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
)

// cliEnv runs onepam commands with a given CLI config file.
type cliEnv struct {
	t      *testing.T
	config string
}

func (c cliEnv) run(ctx context.Context, args ...string) (int, string, string) {
	ios, _, out, errOut := iostreams.Test()
	f := &cmdutil.Factory{
		IOStreams: ios,
		Getenv:    func(k string) string { return map[string]string{"ONEPAM_CONFIG": c.config}[k] },
		Now:       time.Now,
		Location:  time.UTC,
		Version:   "test",
	}
	code := Run(ctx, f, args)
	return code, out.String(), errOut.String()
}

// startDev runs onepam dev in dir and waits until it is ready.
func startDev(t *testing.T, dir, cfgPath string) (DevInfo, context.CancelFunc, chan error, *syncBuffer) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan DevInfo, 1)
	out, errOut := &syncBuffer{}, &syncBuffer{}
	opts := &DevOptions{
		IO:          &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut},
		ConfigPath:  func() (string, error) { return cfgPath, nil },
		Version:     "test",
		Dir:         dir,
		Listen:      "127.0.0.1:0",
		AgentListen: "127.0.0.1:0",
		Ready:       func(i DevInfo) { ready <- i },
	}
	done := make(chan error, 1)
	go func() { done <- runDev(ctx, opts) }()
	select {
	case info := <-ready:
		return info, cancel, done, out
	case err := <-done:
		cancel()
		t.Fatalf("onepam dev ended: %v\n%s", err, errOut)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("onepam dev not ready\n%s", errOut)
	}
	return DevInfo{}, cancel, done, out
}

func TestDev(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "cli", "config.yaml")
	info, stop, done, out := startDev(t, filepath.Join(dir, "dev"), cfgPath)
	mustContain(t, out.String(), "onepam tcp connect echo", "onepam sessions replay")
	if !regexp.MustCompile(`^https://demo-web\.localhost:\d+/$`).MatchString(info.DemoAppURL) {
		t.Fatalf("demo app URL %q", info.DemoAppURL)
	}
	mustContain(t, out.String(), "demo app    "+info.DemoAppURL)
	st, err := os.Stat(filepath.Join(dir, "dev", devTokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin token file: %v %v", st, err)
	}
	cli := cliEnv{t: t, config: cfgPath}
	ctx := context.Background()

	code, stdout, stderr := cli.run(ctx, "resources", "ls", "--label", "env=dev", "-o", "json")
	if code != 0 || !strings.Contains(stdout, `"name": "echo"`) || !strings.Contains(stdout, info.EchoAddr) || !strings.Contains(stdout, `"name": "demo-web"`) {
		t.Fatalf("resources ls: %d %s %s", code, stdout, stderr)
	}

	// tcp connect echo, carrying bytes through control and the agent.
	g := &tcpRun{out: &syncBuffer{}, errOut: &syncBuffer{}, done: make(chan error, 1)}
	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	go func() {
		ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: g.out, ErrOut: g.errOut}
		f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string { return map[string]string{"ONEPAM_CONFIG": cfgPath}[k] }, Now: time.Now, Location: time.UTC, Version: "test"}
		if c := Run(tctx, f, []string{"tcp", "connect", "echo"}); c != 0 {
			g.done <- &api.Error{Code: api.CodeInternal, Message: g.errOut.String()}
			return
		}
		g.done <- nil
	}()
	addr := g.addr(t)
	roundTrip(t, addr, 100_000)
	roundTrip(t, addr, 5)

	sessions := func() []api.Session {
		code, stdout, stderr := cli.run(ctx, "sessions", "ls", "--type", "tcp", "-o", "json")
		if code != 0 {
			t.Fatalf("sessions ls: %d %s", code, stderr)
		}
		var ss []api.Session
		if err := json.Unmarshal([]byte(stdout), &ss); err != nil {
			t.Fatal(err)
		}
		return ss
	}
	if ss := sessions(); len(ss) != 1 || ss[0].Status != api.StatusActive {
		t.Fatalf("want one active session, got %+v", ss)
	}
	tcancel() // Ctrl-C
	if err := g.wait(t); err != nil {
		t.Fatal(err)
	}
	var s api.Session
	waitFor(t, "the session to complete with its byte counts", func() bool {
		ss := sessions()
		if len(ss) == 1 {
			s = ss[0]
		}
		return s.Status == api.StatusCompleted && s.BytesUp == 100_005 && s.BytesDown == 100_005
	})
	waitFor(t, "the recording", func() bool {
		code, stdout, _ := cli.run(ctx, "sessions", "replay", s.ID, "-o", "json")
		return code == 0 && strings.Count(stdout, `"event": "close"`) == 2
	})

	stop()
	if err := <-done; err != nil {
		t.Fatalf("onepam dev: %v", err)
	}

	// Running again reuses the data: same admin token, the agent needs no
	// enrollment, the old session is still there.
	tok1 := info.AdminToken
	info2, stop2, done2, _ := startDev(t, filepath.Join(dir, "dev"), cfgPath)
	defer func() { stop2(); <-done2 }()
	if info2.AdminToken != tok1 {
		t.Fatal("the admin token changed on restart")
	}
	if ss := sessions(); len(ss) != 1 || ss[0].ID != s.ID {
		t.Fatalf("sessions after restart: %+v", ss)
	}
}

func TestControlServe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := &syncBuffer{}
	opts := &ControlServeOptions{
		IO:          &iostreams.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: errOut},
		Version:     "test",
		DataDir:     dir,
		Listen:      "127.0.0.1:0",
		AgentListen: "127.0.0.1:0",
		LogFormat:   "text",
		LogLevel:    "warn",
	}
	done := make(chan error, 1)
	go func() { done <- runControlServe(ctx, opts) }()
	loginLine := regexp.MustCompile(`onepam login --control (\S+) --token (\S+) --ca-pin (\S+)`)
	var m []string
	waitFor(t, "the first-start banner", func() bool {
		m = loginLine.FindStringSubmatch(errOut.String())
		return m != nil
	})
	cli := cliEnv{t: t, config: filepath.Join(dir, "cli.yaml")}
	code, stdout, stderr := cli.run(ctx, "login", "--control", m[1], "--token", m[2], "--ca-pin", m[3])
	if code != 0 || !strings.Contains(stdout, "(admin)") {
		t.Fatalf("login with the printed line: %d %s %s", code, stdout, stderr)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("control did not shut down")
	}

}

func TestServeSettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "control.yaml")
	if err := os.WriteFile(file, []byte("data_dir: /from/file\nlisten: 10.0.0.1:7443\npublic_names: [a.example]\nlog_format: text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want ControlServeOptions
	}{
		{"defaults", nil, nil, ControlServeOptions{DataDir: "./onepam-data", Listen: ":7443", AgentListen: ":7444", LogFormat: "json", LogLevel: "info"}},
		{"file", []string{"--config", file}, nil, ControlServeOptions{DataDir: "/from/file", Listen: "10.0.0.1:7443", AgentListen: ":7444", PublicNames: []string{"a.example"}, LogFormat: "text", LogLevel: "info"}},
		{"env over file", []string{"--config", file}, map[string]string{"ONEPAM_DATA_DIR": "/from/env", "ONEPAM_PUBLIC_NAME": "b.example,c.example"}, ControlServeOptions{DataDir: "/from/env", Listen: "10.0.0.1:7443", AgentListen: ":7444", PublicNames: []string{"b.example", "c.example"}, LogFormat: "text", LogLevel: "info"}},
		{"flag over env", []string{"--config", file, "--data-dir", "/from/flag", "--agent-listen", "127.0.0.1:9"}, map[string]string{"ONEPAM_DATA_DIR": "/from/env"}, ControlServeOptions{DataDir: "/from/flag", Listen: "10.0.0.1:7443", AgentListen: "127.0.0.1:9", PublicNames: []string{"a.example"}, LogFormat: "text", LogLevel: "info"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			g := *got
			g.IO, g.Version = nil, ""
			// Recording defaults (control_recording_test.go tests them).
			if g.RecordingStorage.Kind != "dir" || g.Retention.Plan != "free" {
				t.Fatalf("recording defaults %+v %+v", g.RecordingStorage, g.Retention)
			}
			g.RecordingStorage, g.Retention, g.RetentionInterval = tc.want.RecordingStorage, tc.want.Retention, tc.want.RetentionInterval
			// App settings (control_apps_test.go tests them).
			g.AppsDomain, g.AppIdleTimeout = tc.want.AppsDomain, tc.want.AppIdleTimeout
			if strings.Join(g.PublicNames, ",") != strings.Join(tc.want.PublicNames, ",") {
				t.Fatalf("public names %v, want %v", g.PublicNames, tc.want.PublicNames)
			}
			g.PublicNames, tc.want.PublicNames = nil, nil
			if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("got  %+v\nwant %+v", g, tc.want)
			}
		})
	}
}
