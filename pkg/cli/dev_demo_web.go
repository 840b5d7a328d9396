package cli

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/onepam/onepam/agent"
	"github.com/onepam/onepam/pkg/cli/devapp"
)

// startDemoWeb serves the demo web app (package devapp) on a free loopback
// port; closing the listener stops it.
func startDemoWeb() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start the demo web app: %w", err)
	}
	srv := &http.Server{Handler: devapp.New(), ReadHeaderTimeout: 10 * time.Second}
	// Serve returns when the caller closes the listener (onepam dev stops).
	go func() { _ = srv.Serve(ln) }()
	return ln, nil
}

// devWebApp returns resource demo-web (the demo web app at addr), unless a
// --resource takes its name.
func devWebApp(addr string, specs []string) (agent.ResourceConfig, bool) {
	if devSpecNamed(specs, devWebResource) {
		return agent.ResourceConfig{}, false
	}
	r, err := agent.ParseResourceURL(devWebResource, "http://"+addr)
	if err != nil {
		return agent.ResourceConfig{}, false
	}
	r.Labels = map[string]string{"env": "dev"}
	r.Description = "demo web app run by onepam dev, published at https://demo-web.<apps domain>"
	return r, true
}
