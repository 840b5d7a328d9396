package client

import (
	"context"
	"net/http"
	"net/url"
)

// SetUserPassword calls PUT /v1/users/{name}/password: the user's console
// password ("" removes it). An admin sets anyone's, a person their own.
func (c *Client) SetUserPassword(ctx context.Context, name, password string) error {
	body := struct {
		Password string `json:"password"`
	}{password}
	return c.do(ctx, http.MethodPut, "/v1/users/"+url.PathEscape(name)+"/password", nil, body, nil)
}
