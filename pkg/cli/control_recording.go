package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/onepam/onepam/pkg/api"
	"github.com/onepam/onepam/pkg/cli/cmdutil"
)

// recordingSettings maps the recording settings of `control serve` (file
// keys) to their flags; each is also ONEPAM_<KEY> in the environment.
var recordingSettings = map[string]string{
	"recording_storage":  "recording-storage",
	"s3_endpoint":        "s3-endpoint",
	"s3_bucket":          "s3-bucket",
	"s3_region":          "s3-region",
	"s3_prefix":          "s3-prefix",
	"s3_access_key":      "s3-access-key",
	"s3_secret_key":      "s3-secret-key",
	"s3_env_credentials": "s3-env-credentials",
	"s3_path_style":      "s3-path-style",
	"s3_insecure":        "s3-insecure",
	"s3_ca_file":         "s3-ca-file",
	"retention_plan":     "retention-plan",
	"retention_days":     "retention-days",
	"retention_interval": "retention-interval",
}

func addRecordingFlags(fl *pflag.FlagSet) {
	fl.String("recording-storage", "dir", "where new recordings go until set with onepam settings recording-storage: dir (DATA_DIR/recordings) or s3")
	fl.String("s3-endpoint", "", "S3-compatible endpoint host[:port]")
	fl.String("s3-bucket", "", "S3 bucket")
	fl.String("s3-region", "", "S3 region")
	fl.String("s3-prefix", "", "S3 key prefix (objects: PREFIX/SESSION-ID/recording.oprec)")
	fl.String("s3-access-key", "", "S3 access key")
	fl.String("s3-secret-key", "", "S3 secret key (prefer ONEPAM_S3_SECRET_KEY)")
	fl.Bool("s3-env-credentials", false, "take S3 credentials from the environment (AWS_*, MINIO_*, AWS files, instance role)")
	fl.Bool("s3-path-style", false, "S3 path-style requests (bucket in the path)")
	fl.Bool("s3-insecure", false, "S3 over plain HTTP (test servers only)")
	fl.String("s3-ca-file", "", "extra CA certificates (PEM) to trust for the S3 endpoint")
	fl.String("retention-plan", "free", "recording retention plan until set with onepam settings retention: free (7 days), team (90), enterprise (unlimited)")
	fl.Int("retention-days", 0, "recording retention in days, overriding the plan's (-1: unlimited)")
	fl.Duration("retention-interval", time.Hour, "how often expired recordings are deleted")
}

// loadRecordingSettings reads the recording settings: flag, else
// environment, else config file, else default.
func loadRecordingSettings(v *viper.Viper, fl *pflag.FlagSet, getenv func(string) string, opts *ControlServeOptions) error {
	for key, flag := range recordingSettings {
		if err := v.BindPFlag(key, fl.Lookup(flag)); err != nil {
			return err
		}
		if val := getenv("ONEPAM_" + strings.ToUpper(key)); val != "" && !fl.Changed(flag) {
			v.Set(key, val)
		}
	}
	opts.Retention = api.RetentionSettings{Plan: v.GetString("retention_plan"), Days: v.GetInt("retention_days")}
	if opts.RetentionInterval = v.GetDuration("retention_interval"); opts.RetentionInterval <= 0 {
		return cmdutil.FlagErrorf("--retention-interval %q: want a positive duration such as 1h or 10m", v.GetString("retention_interval"))
	}
	switch kind := v.GetString("recording_storage"); kind {
	case "", "dir":
		opts.RecordingStorage = api.RecordingStorage{Kind: "dir"}
	case "s3":
		s3 := &api.S3Storage{
			Endpoint: v.GetString("s3_endpoint"), Bucket: v.GetString("s3_bucket"), Region: v.GetString("s3_region"),
			Prefix: v.GetString("s3_prefix"), AccessKey: v.GetString("s3_access_key"), SecretKey: v.GetString("s3_secret_key"),
			EnvCredentials: v.GetBool("s3_env_credentials"), PathStyle: v.GetBool("s3_path_style"), Insecure: v.GetBool("s3_insecure"),
		}
		if f := v.GetString("s3_ca_file"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return cmdutil.FlagErrorf("--s3-ca-file: %v", err)
			}
			s3.CAPEM = string(b)
		}
		if s3.Endpoint == "" || s3.Bucket == "" {
			return cmdutil.FlagErrorf("--recording-storage s3 needs --s3-endpoint and --s3-bucket")
		}
		opts.RecordingStorage = api.RecordingStorage{Kind: "s3", S3: s3}
	default:
		return cmdutil.FlagErrorf("--recording-storage %q: want dir or s3", kind)
	}
	if _, ok := map[string]bool{"free": true, "team": true, "enterprise": true}[opts.Retention.Plan]; !ok {
		return cmdutil.FlagErrorf("--retention-plan %q: want free, team or enterprise", opts.Retention.Plan)
	}
	if opts.Retention.Days < -1 {
		return fmt.Errorf("--retention-days %d: want days, 0 for the plan's, -1 for unlimited", opts.Retention.Days)
	}
	return nil
}
