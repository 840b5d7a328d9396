package agentcli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/pkg/debugpprof"
)

// DefaultDataDir is the agent's data directory when none is given.
const DefaultDataDir = "./onepam-agent-data"

func newRunCmd(stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Enroll if needed, then connect to control and serve sessions until stopped",
		Long: `Run the agent. On the first start (no identity in --data-dir) it enrolls with
control using --token, saving its key and certificate in the data directory;
later starts reuse them. It then keeps a connection to control, reconnecting
after any loss, until SIGINT or SIGTERM.

Every flag can also be set with an ONEPAM_AGENT_<FLAG> environment variable
(e.g. ONEPAM_AGENT_CONTROL, ONEPAM_AGENT_DATA_DIR), and name, control, token,
data_dir and resources with the --config file (agent.yaml). Flags win over the
environment, which wins over the file.`,
		Example: `  # Enroll and run, with resources from agent.yaml
  onepam-agent run --control 127.0.0.1:7444 --token TOKEN --data-dir ./agent-data --config agent.yaml

  # The same, from the environment
  ONEPAM_AGENT_CONTROL=127.0.0.1:7444 ONEPAM_AGENT_DATA_DIR=./agent-data onepam-agent run

  # agent.yaml
  #   resources:
  #     - name: pg
  #       url: tcp://127.0.0.1:5432
  #       labels: {env: dev}
  #     - name: redis
  #       type: tcp
  #       address: 10.0.0.5:6379`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.String("control", "", "control's agent address HOST:PORT (default: the one saved at enrollment)")
	f.String("token", "", "one-time enrollment token (first start only)")
	f.String("config", "", "agent configuration file (agent.yaml)")
	f.String("data-dir", "", "data directory for identity, keys and the recording spool (default "+DefaultDataDir+")")
	f.String("name", "", "agent name asked for at enrollment (default: the hostname)")
	f.String("recording", "", "recording mode: fail-closed (default), fail-open or off")
	f.String("spool-limit", "", "recording spool size limit, e.g. 10GiB (default 10GiB, 0: none)")
	f.String("log-format", "text", "log format: text or json")
	f.String("log-level", "info", "log level: debug, info, warn or error")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		v, err := newViper(cmd)
		if err != nil {
			return err
		}
		log, err := newLogger(stderr, v.GetString("log-format"), v.GetString("log-level"))
		if err != nil {
			return err
		}
		cfg, err := configFrom(v)
		if err != nil {
			return usageError{err}
		}
		cfg.Logger = log
		cfg.Version = Version
		log.Info("starting onepam-agent", "version", Version, "data_dir", cfg.DataDir, "resources", len(cfg.Resources))
		stopPprof, err := debugpprof.Start("onepam-agent", log)
		if err != nil {
			return usageError{err}
		}
		defer stopPprof()
		if err := agent.Run(cmd.Context(), cfg); err != nil {
			return err
		}
		log.Info("onepam-agent stopped")
		return nil
	}
	return cmd
}

// configFrom merges flags/environment (v) over the config file.
func configFrom(v *viper.Viper) (agent.Config, error) {
	var fc agent.FileConfig
	if path := v.GetString("config"); path != "" {
		var err error
		if fc, err = agent.LoadConfigFile(path); err != nil {
			return agent.Config{}, err
		}
	}
	pick := func(key, fromFile string) string {
		if s := v.GetString(key); s != "" {
			return s
		}
		return fromFile
	}
	cfg := agent.Config{
		ControlAddr: pick("control", fc.Control),
		Token:       pick("token", fc.Token),
		DataDir:     pick("data-dir", fc.DataDir),
		Name:        pick("name", fc.Name),
		Resources:   fc.Resources,
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	mode, off, err := agent.RecordingSetting(pick("recording", fc.Recording))
	if err != nil {
		return agent.Config{}, fmt.Errorf("--recording: %w", err)
	}
	cfg.RecordingMode, cfg.DisableRecording = mode, off
	cfg.SpoolLimit = fc.SpoolLimit
	if s := v.GetString("spool-limit"); s != "" {
		n, err := agent.ParseSize(s)
		if err != nil {
			return agent.Config{}, fmt.Errorf("--spool-limit: %w", err)
		}
		cfg.SpoolLimit = n
		if n == 0 {
			cfg.SpoolLimit = -1
		}
	}
	return cfg, nil
}
