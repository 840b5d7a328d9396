package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/output"
)

// newCmdSettings returns `onepam settings`: recording storage, retention
// and access (admins change them, admins and auditors read them).
func newCmdSettings(f *cmdutil.Factory) *cobra.Command {
	cmd := newGroup("settings", "Show and change control's recording storage, retention and access", `  onepam settings recording-storage show
  onepam settings retention set --plan team`)
	storage := newGroup("recording-storage", "Where new recordings are stored: the local directory or an S3-compatible bucket", `  onepam settings recording-storage set --kind s3 --endpoint minio:9000 --bucket rec --access-key AK --secret-key-file ./secret`)
	storage.AddCommand(newCmdStorageShow(f), newCmdStorageSet(f), newCmdStorageTest(f))
	retention := newGroup("retention", "How long recordings are kept", `  onepam settings retention show
  onepam settings retention set --plan enterprise`)
	retention.AddCommand(newCmdRetentionShow(f), newCmdRetentionSet(f))
	access := newGroup("recording-access", "Whether users may read the recordings of their own sessions", `  onepam settings recording-access show
  onepam settings recording-access set --users-own off`)
	access.AddCommand(newCmdRecordingAccessShow(f), newCmdRecordingAccessSet(f))
	cmd.AddCommand(storage, retention, access)
	return cmd
}

func printStorage(f *cmdutil.Factory, format output.Format, s api.RecordingStorage) error {
	if format.IsJSON() {
		return output.Print(f.IOStreams.Out, format, s, nil)
	}
	if s.Kind != "s3" || s.S3 == nil {
		_, err := fmt.Fprintln(f.IOStreams.Out, "recording storage: dir (the control server's data directory, recordings/<session id>/)")
		return err
	}
	c := s.S3
	creds := "access key " + c.AccessKey + ", secret " + c.SecretKey
	if c.EnvCredentials && c.AccessKey == "" {
		creds = "from the environment"
	}
	_, err := fmt.Fprintf(f.IOStreams.Out, "recording storage: s3\n  endpoint:    %s\n  bucket:      %s\n  region:      %s\n  prefix:      %s (objects %s/<session id>/recording.oprec)\n  credentials: %s\n  path style:  %v\n  plain http:  %v\n  extra CA:    %v\n",
		c.Endpoint, c.Bucket, c.Region, c.Prefix, strings.TrimSuffix(c.Prefix, "/"), creds, c.PathStyle, c.Insecure, c.CAPEM != "")
	return err
}

func newCmdStorageShow(f *cmdutil.Factory) *cobra.Command {
	var format output.Format
	cmd := &cobra.Command{
		Use: "show", Short: "Show where new recordings are stored", Args: cmdutil.NoArgs,
		Example: "  onepam settings recording-storage show\n  onepam settings recording-storage show -o json",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			s, err := c.RecordingStorage(cmd.Context())
			if err != nil {
				return err
			}
			return printStorage(f, format, s)
		},
	}
	output.AddFormatFlag(cmd, &format)
	return cmd
}

// storageFlags are the flags describing a storage setting.
type storageFlags struct {
	kind, endpoint, bucket, region, prefix, accessKey, secretFile, caFile string
	env, pathStyle, insecure                                              bool
}

func (s *storageFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.kind, "kind", "s3", "dir or s3")
	fl.StringVar(&s.endpoint, "endpoint", "", "S3 endpoint host[:port]")
	fl.StringVar(&s.bucket, "bucket", "", "bucket")
	fl.StringVar(&s.region, "region", "", "region")
	fl.StringVar(&s.prefix, "prefix", "", "key prefix")
	fl.StringVar(&s.accessKey, "access-key", "", "access key")
	fl.StringVar(&s.secretFile, "secret-key-file", "", "file holding the secret key (- for standard input); or ONEPAM_S3_SECRET_KEY")
	fl.BoolVar(&s.env, "env-credentials", false, "control takes the credentials from its environment")
	fl.BoolVar(&s.pathStyle, "path-style", false, "path-style requests")
	fl.BoolVar(&s.insecure, "insecure", false, "plain HTTP (test servers only)")
	fl.StringVar(&s.caFile, "ca-file", "", "extra CA certificates (PEM) to trust")
}

func (s *storageFlags) setting(f *cmdutil.Factory) (api.RecordingStorage, error) {
	if s.kind == "dir" {
		return api.RecordingStorage{Kind: "dir"}, nil
	}
	if s.kind != "s3" {
		return api.RecordingStorage{}, cmdutil.FlagErrorf("--kind %q: want dir or s3", s.kind)
	}
	c := &api.S3Storage{Endpoint: s.endpoint, Bucket: s.bucket, Region: s.region, Prefix: s.prefix, AccessKey: s.accessKey,
		EnvCredentials: s.env, PathStyle: s.pathStyle, Insecure: s.insecure}
	switch {
	case s.secretFile == "-":
		b, err := readAllTrim(f.IOStreams.In)
		if err != nil {
			return api.RecordingStorage{}, err
		}
		c.SecretKey = b
	case s.secretFile != "":
		b, err := os.ReadFile(s.secretFile)
		if err != nil {
			return api.RecordingStorage{}, cmdutil.FlagErrorf("--secret-key-file: %v", err)
		}
		c.SecretKey = strings.TrimSpace(string(b))
	default:
		c.SecretKey = f.Getenv("ONEPAM_S3_SECRET_KEY")
	}
	if s.caFile != "" {
		b, err := os.ReadFile(s.caFile)
		if err != nil {
			return api.RecordingStorage{}, cmdutil.FlagErrorf("--ca-file: %v", err)
		}
		c.CAPEM = string(b)
	}
	if c.Endpoint == "" || c.Bucket == "" {
		return api.RecordingStorage{}, cmdutil.FlagErrorf("s3 storage needs --endpoint and --bucket")
	}
	return api.RecordingStorage{Kind: "s3", S3: c}, nil
}

func newCmdStorageSet(f *cmdutil.Factory) *cobra.Command {
	var sf storageFlags
	var format output.Format
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Store new recordings in the local directory or an S3-compatible bucket",
		Long: `Change where control stores new recordings. Control first writes, reads and
deletes a probe object and refuses a storage that fails. Recordings stored
before stay readable where they are.`,
		Example: `  onepam settings recording-storage set --kind s3 --endpoint s3.eu-west-1.amazonaws.com --bucket acme-rec --region eu-west-1 --prefix onepam --access-key AKIA... --secret-key-file ./secret
  onepam settings recording-storage set --kind dir`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sf.setting(f)
			if err != nil {
				return err
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			got, err := c.SetRecordingStorage(cmd.Context(), s)
			if err != nil {
				return err
			}
			return printStorage(f, format, got)
		},
	}
	sf.add(cmd)
	output.AddFormatFlag(cmd, &format)
	return cmd
}

func newCmdStorageTest(f *cmdutil.Factory) *cobra.Command {
	var sf storageFlags
	var format output.Format
	cmd := &cobra.Command{
		Use:   "test",
		Short: "Write, read back and delete a probe object in the recording storage",
		Long: `Test the recording storage in force, or the one described by the flags when
--endpoint is given (nothing is changed): control writes a probe object,
reads it back and deletes it, and reports each step. Exits 1 when a step
fails.`,
		Example: `  onepam settings recording-storage test
  onepam settings recording-storage test --endpoint minio:9000 --bucket rec --access-key AK --secret-key-file ./secret`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var s *api.RecordingStorage
			if sf.endpoint != "" {
				v, err := sf.setting(f)
				if err != nil {
					return err
				}
				s = &v
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			res, err := c.TestRecordingStorage(cmd.Context(), s)
			if err != nil {
				return err
			}
			if format.IsJSON() {
				err = output.Print(f.IOStreams.Out, format, res, nil)
			} else {
				for _, st := range res.Steps {
					fmt.Fprintln(f.IOStreams.Out, "  "+st)
				}
				_, err = fmt.Fprintln(f.IOStreams.Out, res.Message)
			}
			if err == nil && !res.OK {
				return &cmdutil.ExitStatusError{Code: cmdutil.ExitError}
			}
			return err
		},
	}
	sf.add(cmd)
	output.AddFormatFlag(cmd, &format)
	return cmd
}

func printRetention(f *cmdutil.Factory, format output.Format, r api.RetentionSettings) error {
	if format.IsJSON() {
		return output.Print(f.IOStreams.Out, format, r, nil)
	}
	period := fmt.Sprintf("%d days", r.EffectiveDays)
	if r.EffectiveDays < 0 {
		period = "unlimited"
	}
	how := "the plan's"
	if r.Days != 0 {
		how = "overridden"
	}
	_, err := fmt.Fprintf(f.IOStreams.Out, "retention: plan %s, recordings kept %s (%s)\n", r.Plan, period, how)
	return err
}

func newCmdRetentionShow(f *cmdutil.Factory) *cobra.Command {
	var format output.Format
	cmd := &cobra.Command{
		Use: "show", Short: "Show how long recordings are kept", Args: cmdutil.NoArgs,
		Example: "  onepam settings retention show",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			r, err := c.Retention(cmd.Context())
			if err != nil {
				return err
			}
			return printRetention(f, format, r)
		},
	}
	output.AddFormatFlag(cmd, &format)
	return cmd
}

func newCmdRetentionSet(f *cmdutil.Factory) *cobra.Command {
	var format output.Format
	var plan string
	var days int
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Set the plan and optionally a retention period of its own",
		Long: `Set how long recordings are kept: the plan's period (free 7 days, team 90,
enterprise unlimited) or --days (-1: unlimited). A background job deletes
recordings older than that; their sessions keep their metadata.`,
		Example: `  onepam settings retention set --plan team
  onepam settings retention set --plan free --days 30`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := f.Client()
			if err != nil {
				return err
			}
			if plan == "" {
				cur, err := c.Retention(cmd.Context())
				if err != nil {
					return err
				}
				plan = cur.Plan
			}
			r, err := c.SetRetention(cmd.Context(), api.RetentionSettings{Plan: plan, Days: days})
			if err != nil {
				return err
			}
			return printRetention(f, format, r)
		},
	}
	cmd.Flags().StringVar(&plan, "plan", "", "free, team or enterprise (default: the current plan)")
	cmd.Flags().IntVar(&days, "days", 0, "retention in days (0: the plan's, -1: unlimited)")
	output.AddFormatFlag(cmd, &format)
	return cmd
}

func readAllTrim(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	return strings.TrimSpace(string(b)), err
}
