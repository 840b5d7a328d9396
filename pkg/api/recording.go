package api

// RecordingVerification is the answer of GET /v1/sessions/{id}/verify:
// the integrity of a session's stored recording container (hash chain and
// the agent's Ed25519 signature; see recordfmt/container).
type RecordingVerification struct {
	SessionID string `json:"session_id"`
	// Status: "ok" (complete, every frame matches the chain, signed by the
	// agent's key), "cut" (every frame kept is intact but the recording
	// ends without the agent's signature: the agent stopped while it
	// ran), "tampered" (something was altered, removed or added),
	// "bad_signature" (the chain is intact, the signature is not the
	// agent's), "recording" (the session is still being recorded: the
	// frames so far are checked), "unverifiable" (a recording stored
	// before containers, or no recording).
	Status string `json:"status"`
	// Intact is false when the recording was altered, wrongly signed, or
	// cut although its session ended normally: `onepam sessions verify`
	// exits non-zero. A recording cut because its session failed (agent
	// lost) is intact: what was kept is authentic.
	Intact  bool   `json:"intact"`
	Message string `json:"message"` // one line for people: what and where
	// Where the problem is (Status cut, tampered, bad_signature): the
	// frame number (-1: the file header), its byte offset in the stored
	// container and its session time in seconds. For cut: the last
	// complete frame and where the complete frames end.
	Frame      int     `json:"frame"`
	Offset     int64   `json:"offset"`
	AtSeconds  float64 `json:"at_seconds"`
	Frames     int     `json:"frames"`   // data frames that match the chain
	RawSize    int64   `json:"raw_size"` // recorded bytes in those frames
	Duration   float64 `json:"duration_seconds"`
	StoredSize int64   `json:"stored_size"` // bytes of the stored container
	Agent      string  `json:"agent"`
	SignerKey  string  `json:"signer_key,omitempty"` // hex public key named by the trailer
	// SessionStatus is the session's status, which decides whether a cut
	// recording is intact.
	SessionStatus SessionStatus `json:"session_status"`
}

// RecordingStorage is where control stores new recordings (GET/PUT
// /v1/settings/recording-storage). Recordings stay readable in the store
// that took them when the setting changes.
type RecordingStorage struct {
	// Kind is "dir" (the local directory, the default) or "s3" (an
	// S3-compatible bucket).
	Kind string     `json:"kind"`
	S3   *S3Storage `json:"s3,omitempty"`
}

// S3Storage is an S3-compatible bucket holding recordings as
// <prefix>/<session id>/recording.oprec (see control/recordings.Bucket).
type S3Storage struct {
	Endpoint string `json:"endpoint"` // host[:port], e.g. s3.eu-west-1.amazonaws.com or minio.internal:9000
	Bucket   string `json:"bucket"`
	Region   string `json:"region,omitempty"`
	Prefix   string `json:"prefix,omitempty"` // key prefix, e.g. "onepam/recordings"
	// AccessKey and SecretKey; empty with EnvCredentials to take them from
	// the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, MINIO_*,
	// the AWS files, or an instance role). Answers never carry the secret:
	// SecretKey is "********" when one is set.
	AccessKey      string `json:"access_key,omitempty"`
	SecretKey      string `json:"secret_key,omitempty"`
	EnvCredentials bool   `json:"env_credentials,omitempty"`
	PathStyle      bool   `json:"path_style,omitempty"` // bucket in the path, not the host name
	Insecure       bool   `json:"insecure,omitempty"`   // plain HTTP (test servers only)
	CAPEM          string `json:"ca_pem,omitempty"`     // extra CA certificates (PEM) to trust
}

// StorageTestResult is the answer of POST
// /v1/settings/recording-storage/test: a probe object written, read back
// and deleted.
type StorageTestResult struct {
	OK      bool     `json:"ok"`
	Message string   `json:"message"`
	Steps   []string `json:"steps"` // what was done, in order, with timings
}

// RetentionSettings is how long recordings are kept (GET/PUT
// /v1/settings/retention): a plan's period ("free" 7 days, "team" 90,
// "enterprise" unlimited) unless Days overrides it.
type RetentionSettings struct {
	Plan string `json:"plan"`
	// Days overrides the plan's period: 0 uses the plan's, -1 is
	// unlimited.
	Days int `json:"days"`
	// EffectiveDays is the period applied (-1: unlimited); read-only.
	EffectiveDays int `json:"effective_days"`
}

// RecordingAccess says who besides admins and auditors may read
// recordings (GET/PUT /v1/settings/recording-access). Reading covers the
// recording routes (replay, export, frames and snapshots, verify, watch),
// file activity and text search; admins and auditors read every
// session's, a user at most its own sessions'.
type RecordingAccess struct {
	// UsersOwn lets a user read the recordings of its own sessions
	// (default true).
	UsersOwn bool `json:"users_own"`
}
