package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/onepam/onepam/pkg/api"
)

// RecordingDownload is a recording body with what control says of it.
type RecordingDownload struct {
	Body io.ReadCloser
	// RawSize is the inner stream's size (X-Onepam-Raw-Size), -1 unknown.
	RawSize int64
	// Size is the body's length (Content-Length), -1 unknown.
	Size int64
}

// RecordingAs calls GET /v1/sessions/{id}/recording?format=FORMAT: "inner"
// (what replay reads), "native" (the .cast/.jsonl/.har file) or
// "container" (the stored, signed container).
func (c *Client) RecordingAs(ctx context.Context, id, format string) (RecordingDownload, error) {
	q := url.Values{"format": {format}}
	resp, err := c.send(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/recording", q, nil)
	if err != nil {
		return RecordingDownload{}, err
	}
	d := RecordingDownload{Body: resp.Body, RawSize: -1, Size: resp.ContentLength}
	if n, err := strconv.ParseInt(resp.Header.Get("X-Onepam-Raw-Size"), 10, 64); err == nil {
		d.RawSize = n
	}
	return d, nil
}

// VerifyRecording calls GET /v1/sessions/{id}/verify.
func (c *Client) VerifyRecording(ctx context.Context, id string) (api.RecordingVerification, error) {
	var out api.RecordingVerification
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/verify", nil, nil, &out)
	return out, err
}

// RecordingStorage calls GET /v1/settings/recording-storage.
func (c *Client) RecordingStorage(ctx context.Context) (api.RecordingStorage, error) {
	var out api.RecordingStorage
	err := c.do(ctx, http.MethodGet, "/v1/settings/recording-storage", nil, nil, &out)
	return out, err
}

// SetRecordingStorage calls PUT /v1/settings/recording-storage.
func (c *Client) SetRecordingStorage(ctx context.Context, s api.RecordingStorage) (api.RecordingStorage, error) {
	var out api.RecordingStorage
	err := c.do(ctx, http.MethodPut, "/v1/settings/recording-storage", nil, s, &out)
	return out, err
}

// TestRecordingStorage calls POST /v1/settings/recording-storage/test
// (s nil: the current storage).
func (c *Client) TestRecordingStorage(ctx context.Context, s *api.RecordingStorage) (api.StorageTestResult, error) {
	var out api.StorageTestResult
	var in any
	if s != nil {
		in = s
	}
	err := c.do(ctx, http.MethodPost, "/v1/settings/recording-storage/test", nil, in, &out)
	return out, err
}

// Retention calls GET /v1/settings/retention.
func (c *Client) Retention(ctx context.Context) (api.RetentionSettings, error) {
	var out api.RetentionSettings
	err := c.do(ctx, http.MethodGet, "/v1/settings/retention", nil, nil, &out)
	return out, err
}

// SetRetention calls PUT /v1/settings/retention.
func (c *Client) SetRetention(ctx context.Context, r api.RetentionSettings) (api.RetentionSettings, error) {
	var out api.RetentionSettings
	err := c.do(ctx, http.MethodPut, "/v1/settings/retention", nil, r, &out)
	return out, err
}

// RecordingAccess calls GET /v1/settings/recording-access.
func (c *Client) RecordingAccess(ctx context.Context) (api.RecordingAccess, error) {
	var out api.RecordingAccess
	err := c.do(ctx, http.MethodGet, "/v1/settings/recording-access", nil, nil, &out)
	return out, err
}

// SetRecordingAccess calls PUT /v1/settings/recording-access.
func (c *Client) SetRecordingAccess(ctx context.Context, a api.RecordingAccess) (api.RecordingAccess, error) {
	var out api.RecordingAccess
	err := c.do(ctx, http.MethodPut, "/v1/settings/recording-access", nil, a, &out)
	return out, err
}
