package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onepam/onepam/pkg/api"
)

// Files calls GET /v1/sessions/{id}/files: the session's file activity,
// oldest first, only the given operations when ops is not empty.
func (c *Client) Files(ctx context.Context, id string, ops []string) ([]api.FileEvent, error) {
	q := url.Values{}
	if len(ops) > 0 {
		q.Set("op", strings.Join(ops, ","))
	}
	var out []api.FileEvent
	err := c.do(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/files", q, nil, &out)
	return out, err
}

// SearchQuery is a search of recorded text. Zero fields do not filter.
type SearchQuery struct {
	Text  string
	Types []api.SessionType
	Users []string
	Since time.Time
	Input bool // typed input instead of output
	Limit int  // 1..1000; 0 = control's default (50)
}

// Search calls GET /v1/search.
func (c *Client) Search(ctx context.Context, sq SearchQuery) ([]api.SearchHit, error) {
	q := url.Values{}
	q.Set("q", sq.Text)
	if len(sq.Types) > 0 {
		s := make([]string, len(sq.Types))
		for i, t := range sq.Types {
			s[i] = string(t)
		}
		q.Set(api.QueryType, strings.Join(s, ","))
	}
	if len(sq.Users) > 0 {
		q.Set(api.QueryUser, strings.Join(sq.Users, ","))
	}
	setTime(q, api.QuerySince, sq.Since)
	if sq.Input {
		q.Set("input", "1")
	}
	if sq.Limit > 0 {
		q.Set(api.QueryLimit, strconv.Itoa(sq.Limit))
	}
	var out []api.SearchHit
	err := c.do(ctx, http.MethodGet, "/v1/search", q, nil, &out)
	return out, err
}

// Watch calls GET /v1/sessions/{id}/watch and returns the session's
// recording as its inner stream (for terminals the asciicast stored form),
// growing as the session runs, from the start or, with live, from now. It
// ends when the recording is final or the session ended; the caller closes
// it. The second result is the recording format.
func (c *Client) Watch(ctx context.Context, id string, live bool) (io.ReadCloser, api.RecordingFormat, error) {
	q := url.Values{}
	if live {
		q.Set("live", "1")
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/watch", q, nil)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, api.RecordingFormat(resp.Header.Get("X-Onepam-Recording-Format")), nil
}
