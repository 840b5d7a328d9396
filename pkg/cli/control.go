package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/onepam/onepam/control"
	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
	"github.com/onepam/onepam/pkg/debugpprof"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

func newCmdControl(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("control", "Run the control server", `  onepam control serve --data-dir /var/lib/onepam --public-name control.example.com`)
	cmd.AddCommand(NewCmdControlServe(f, nil))
	return cmd
}

// ControlServeOptions are the options of `onepam control serve`.
type ControlServeOptions struct {
	IO          *iostreams.IOStreams
	Version     string
	DataDir     string
	Store       string // the database: "" (SQLite in DataDir) or a postgres:// URL
	Listen      string
	AgentListen string
	PublicNames []string
	// AppsDomain publishes http resources at https://NAME.<AppsDomain>;
	// AppIdleTimeout ends an app session without requests.
	AppsDomain     string
	AppIdleTimeout time.Duration
	LogFormat      string // json or text
	LogLevel       string // debug, info, warn, error
	// Recording storage and retention defaults (the database's settings,
	// changed with onepam settings, win).
	RecordingStorage api.RecordingStorage
	Retention        api.RetentionSettings
	// RetentionInterval is how often the retention job runs.
	RetentionInterval time.Duration
	// NodeID and NodeName identify this control node among those sharing
	// a PostgreSQL database ("": a new UUIDv7 per start, the host name).
	NodeID   string
	NodeName string
	// AdvertiseURL is where the other nodes reach this node's API ("":
	// https://<node name or first public name>:<API port>).
	AdvertiseURL string
}

// NewCmdControlServe returns `onepam control serve`.
func NewCmdControlServe(f *cmdutil.Factory, runF func(context.Context, *ControlServeOptions) error) *cobra.Command {
	opts := &ControlServeOptions{IO: f.IOStreams, Version: f.Version}
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve [--data-dir DIR] [--store URL] [--listen ADDR] [--agent-listen ADDR] [--public-name N]... [--config FILE]",
		Short: "Run the control server (API on --listen, agents on --agent-listen)",
		Long: `Run the control server. On first start it creates its CA, server
certificate, database and a first admin, and prints once the admin token,
the CA pin and the onepam login line to use.

Settings come from flags, else ONEPAM_* environment variables
(ONEPAM_DATA_DIR, ONEPAM_STORE, ONEPAM_LISTEN, ONEPAM_AGENT_LISTEN,
ONEPAM_PUBLIC_NAME as a comma list, ONEPAM_APPS_DOMAIN,
ONEPAM_APP_IDLE_TIMEOUT, ONEPAM_NODE_ID, ONEPAM_NODE_NAME,
ONEPAM_ADVERTISE_URL, ONEPAM_LOG_FORMAT, ONEPAM_LOG_LEVEL), else the YAML
file of --config (keys data_dir, store, listen, agent_listen,
public_names, apps_domain, app_idle_timeout, node_id, node_name,
advertise_url, log_format, log_level), else the defaults. SIGINT or SIGTERM shut it down gracefully.

The database is SQLite, embedded in the data directory, unless --store
names a PostgreSQL database
(postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=...), which several
control servers (nodes) may share; its schema is created or upgraded at
start. Each node has an id (--node-id, default a new one at each start)
and an advertised name (--node-name, default the host name): sessions
record the node that carries them, a node fails the sessions of a node
that stopped without its shutdown, and a person's request for a session
whose agent is attached to another node is forwarded to that node at the
URL it advertises (--advertise-url, default https://<node name or first
public name>:<API port>; nodes that forward to each other share the CA).
A node that cannot reach it names that node instead (exit code 6).

HTTP resources are published at https://NAME.<apps domain>:PORT on the API
listener (default apps domain localhost: browsers resolve *.localhost to
this machine); the console's login page is expected at
https://<apps domain>:PORT, and the server certificate names both.`,
		Example: `  onepam control serve
  onepam control serve --data-dir /var/lib/onepam --listen :7443 --agent-listen :7444 --public-name control.example.com
  ONEPAM_DATA_DIR=/srv/onepam onepam control serve --log-format text
  onepam control serve --store 'postgres://onepam@db.example.com:5432/onepam?sslmode=verify-full'
  onepam control serve --config /etc/onepam/control.yaml`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := loadServeSettings(cmd.Flags(), configFile, f.Getenv, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runControlServe(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.String("data-dir", "./onepam-data", "data directory: CA, certificates, database, recordings")
	fl.String("store", "", "database: empty for SQLite in the data directory, or a postgres:// URL")
	fl.String("listen", ":7443", "API address (HTTPS)")
	fl.String("agent-listen", ":7444", "agent address (TLS + yamux)")
	fl.StringArray("public-name", nil, "extra DNS name or IP for the server certificate (repeatable)")
	fl.String("apps-domain", "localhost", "publish http resources at https://NAME.<apps domain>")
	fl.Duration("app-idle-timeout", 15*time.Minute, "end an app session after this long without requests")
	fl.String("node-id", "", "this control node's id among the nodes sharing a PostgreSQL database (default: a new UUIDv7 at each start)")
	fl.String("node-name", "", "the name this control node advertises to people sent to it (default: the host name)")
	fl.String("advertise-url", "", "https://HOST[:PORT] at which the other control nodes reach this node's API (default: https://<node name or first public name>:<API port>)")
	fl.String("log-format", "json", "log format: json or text")
	fl.String("log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&configFile, "config", "", "YAML settings file")
	addRecordingFlags(fl)
	return cmd
}

// serveSettings maps settings keys to their flags.
var serveSettings = map[string]string{
	"data_dir":         "data-dir",
	"store":            "store",
	"listen":           "listen",
	"agent_listen":     "agent-listen",
	"public_names":     "public-name",
	"apps_domain":      "apps-domain",
	"app_idle_timeout": "app-idle-timeout",
	"node_id":          "node-id",
	"node_name":        "node-name",
	"advertise_url":    "advertise-url",
	"log_format":       "log-format",
	"log_level":        "log-level",
}

// loadServeSettings resolves each setting: flag, else environment, else
// config file, else the flag's default.
func loadServeSettings(fl *pflag.FlagSet, configFile string, getenv func(string) string, opts *ControlServeOptions) error {
	v := viper.New()
	if configFile != "" {
		v.SetConfigFile(configFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read %s: %w", configFile, err)
		}
		for _, k := range v.AllKeys() {
			if _, ok := serveSettings[k]; !ok && recordingSettings[k] == "" {
				return cmdutil.FlagErrorf("%s: unknown setting %q (known: data_dir, store, listen, agent_listen, public_names, apps_domain, app_idle_timeout, node_id, node_name, advertise_url, log_format, log_level)", configFile, k)
			}
		}
	}
	env := map[string]string{
		"data_dir":         "ONEPAM_DATA_DIR",
		"store":            "ONEPAM_STORE",
		"listen":           "ONEPAM_LISTEN",
		"agent_listen":     "ONEPAM_AGENT_LISTEN",
		"public_names":     "ONEPAM_PUBLIC_NAME",
		"apps_domain":      "ONEPAM_APPS_DOMAIN",
		"app_idle_timeout": "ONEPAM_APP_IDLE_TIMEOUT",
		"node_id":          "ONEPAM_NODE_ID",
		"node_name":        "ONEPAM_NODE_NAME",
		"advertise_url":    "ONEPAM_ADVERTISE_URL",
		"log_format":       "ONEPAM_LOG_FORMAT",
		"log_level":        "ONEPAM_LOG_LEVEL",
	}
	for key, flag := range serveSettings {
		if err := v.BindPFlag(key, fl.Lookup(flag)); err != nil {
			return err
		}
		// The environment is read through getenv (testable) and set as an
		// override below the flag: a changed flag still wins.
		if val := getenv(env[key]); val != "" && !fl.Changed(flag) {
			if key == "public_names" {
				v.Set(key, splitComma(val))
			} else {
				v.Set(key, val)
			}
		}
	}
	if err := loadRecordingSettings(v, fl, getenv, opts); err != nil {
		return err
	}
	opts.DataDir = v.GetString("data_dir")
	if opts.Store = v.GetString("store"); opts.Store != "" && !control.IsPostgresURL(opts.Store) {
		return cmdutil.FlagErrorf("store: want a postgres:// URL (or nothing, for SQLite in the data directory)")
	}
	opts.Listen = v.GetString("listen")
	opts.AgentListen = v.GetString("agent_listen")
	opts.PublicNames = v.GetStringSlice("public_names")
	opts.AppsDomain = v.GetString("apps_domain")
	if opts.AppIdleTimeout = v.GetDuration("app_idle_timeout"); opts.AppIdleTimeout <= 0 {
		return cmdutil.FlagErrorf("app idle timeout %q: want a positive duration like 15m", v.GetString("app_idle_timeout"))
	}
	opts.NodeID = v.GetString("node_id")
	opts.NodeName = v.GetString("node_name")
	opts.AdvertiseURL = v.GetString("advertise_url")
	opts.LogFormat = v.GetString("log_format")
	opts.LogLevel = v.GetString("log_level")
	if opts.LogFormat != "json" && opts.LogFormat != "text" {
		return cmdutil.FlagErrorf("log format %q: want json or text", opts.LogFormat)
	}
	if _, err := parseLevel(opts.LogLevel); err != nil {
		return err
	}
	return nil
}

func splitComma(s string) []string { return cmdutil.SplitList([]string{s}) }

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, cmdutil.FlagErrorf("log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger returns a slog logger writing to w.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}

func runControlServe(ctx context.Context, opts *ControlServeOptions) error {
	level, err := parseLevel(opts.LogLevel)
	if err != nil {
		return err
	}
	logger := newLogger(opts.IO.ErrOut, opts.LogFormat, level)
	srv, err := control.New(ctx, control.Config{
		DataDir:        opts.DataDir,
		Store:          opts.Store,
		Listen:         opts.Listen,
		AgentListen:    opts.AgentListen,
		PublicNames:    opts.PublicNames,
		AppsDomain:     opts.AppsDomain,
		AppIdleTimeout: opts.AppIdleTimeout,
		NodeID:         opts.NodeID,
		NodeName:       opts.NodeName,
		AdvertiseURL:   opts.AdvertiseURL,
		Logger:         logger,
		Version:        opts.Version,

		RecordingStorage:  opts.RecordingStorage,
		Retention:         opts.Retention,
		RetentionInterval: opts.RetentionInterval,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	stopPprof, err := debugpprof.Start("onepam-control", logger)
	if err != nil {
		return err
	}
	defer stopPprof()
	if tok := srv.FirstAdminToken(); tok != "" {
		url := "https://" + loginHost(srv.APIAddr(), opts.PublicNames)
		fmt.Fprintf(opts.IO.ErrOut, `
control's first start: this is shown ONCE, keep the admin token safe.
  admin token: %s
  CA pin:      %s
log in with:
  onepam login --control %s --token %s --ca-pin %s

`, tok, srv.CAPin(), url, tok, srv.CAPin())
	}
	return srv.Serve(ctx)
}

// loginHost is the host:port to print in the login line: the listening
// address when it is a specific IP, else the first public name or this
// host's name.
func loginHost(addr net.Addr, publicNames []string) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
		if len(publicNames) > 0 {
			host = publicNames[0]
		} else if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		}
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}
