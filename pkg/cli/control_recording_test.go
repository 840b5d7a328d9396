package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/onepam/onepam/pkg/cli/cmdutil"
	"github.com/onepam/onepam/pkg/cli/iostreams"
)

func TestServeRecordingSettings(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o *ControlServeOptions)
		wantErr string
	}{
		{"s3 from flags and env", []string{"--recording-storage", "s3", "--s3-endpoint", "minio:9000", "--s3-bucket", "rec", "--s3-path-style", "--retention-plan", "team"},
			map[string]string{"ONEPAM_S3_SECRET_KEY": "sekret", "ONEPAM_S3_ACCESS_KEY": "ak", "ONEPAM_S3_PREFIX": "p"},
			func(t *testing.T, o *ControlServeOptions) {
				s := o.RecordingStorage.S3
				if o.RecordingStorage.Kind != "s3" || s == nil || s.Endpoint != "minio:9000" || s.Bucket != "rec" || s.SecretKey != "sekret" || s.AccessKey != "ak" || s.Prefix != "p" || !s.PathStyle {
					t.Fatalf("storage %+v %+v", o.RecordingStorage, s)
				}
				if o.Retention.Plan != "team" {
					t.Fatalf("retention %+v", o.Retention)
				}
			}, ""},
		{"retention days override", []string{"--retention-days", "30"}, nil, func(t *testing.T, o *ControlServeOptions) {
			if o.Retention.Days != 30 || o.Retention.Plan != "free" {
				t.Fatalf("retention %+v", o.Retention)
			}
		}, ""},
		{"retention interval from env", nil, map[string]string{"ONEPAM_RETENTION_INTERVAL": "250ms"}, func(t *testing.T, o *ControlServeOptions) {
			if o.RetentionInterval != 250*time.Millisecond {
				t.Fatalf("retention interval %s", o.RetentionInterval)
			}
		}, ""},
		{"retention interval default", nil, nil, func(t *testing.T, o *ControlServeOptions) {
			if o.RetentionInterval != time.Hour {
				t.Fatalf("retention interval %s", o.RetentionInterval)
			}
		}, ""},
		{"retention interval not positive", []string{"--retention-interval", "0s"}, nil, nil, "want a positive duration"},
		{"s3 without bucket", []string{"--recording-storage", "s3", "--s3-endpoint", "x"}, nil, nil, "--s3-bucket"},
		{"unknown storage", []string{"--recording-storage", "tape"}, nil, nil, "want dir or s3"},
		{"unknown plan", []string{"--retention-plan", "gold"}, nil, nil, "want free, team or enterprise"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControlServe(t, tc.args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
}

// parseControlServe runs `onepam control serve ARGS` with environment env
// up to the options it would serve with (nothing is served).
func parseControlServe(t *testing.T, args []string, env map[string]string) (*ControlServeOptions, error) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	var got *ControlServeOptions
	f := &cmdutil.Factory{IOStreams: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now, Location: time.UTC}
	cmd := NewCmdControlServe(f, func(_ context.Context, o *ControlServeOptions) error { got = o; return nil })
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would parse the test binary's own arguments
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return got, err
}
