package control

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	controlapi "github.com/onepam/onepam/control/api"
	"github.com/onepam/onepam/control/pki"
	"github.com/onepam/onepam/control/store"
)

// Forwarding between control nodes. A session is carried by the node its
// resource's agent is attached to; a person's request that reaches
// another node (behind a load balancer) is forwarded by that node to the
// holder's advertised URL (Config.AdvertiseURL, kept in its row of
// control_nodes): the API's session create, connect (the upgraded
// connection, raw bytes or yamux, relayed both ways), kill and watch; the
// web consoles' routes of a session another node carries (package
// consoles: the terminal and VNC WebSockets, the file and query
// requests); and a published app's requests when its agent is attached
// to another node (package apps, WebSocket upgrades included). One
// forwarder serves the three (Server passes it to each). The forwarded
// request keeps the person's Authorization header or cookies (a token,
// a console login and an app login are valid on every node: they share
// the database) and its Host header (so the other node serves the same
// app, and a WebSocket's Origin still matches its Host), and gains
// controlapi.HeaderForwardedBy (this node's id), which stops it from
// being forwarded again, and X-Forwarded-For (the person's IP).
//
// Trust between nodes: the forwarding node verifies the other node's
// certificate against its own CA (nodes that forward to each other share
// the CA), and presents its server certificate as its TLS client
// certificate. The receiving node takes X-Forwarded-For as the client's
// address only on a request with HeaderForwardedBy whose client
// certificate verifies against its CA as a server certificate: control
// nodes hold such a key, agents' certificates (client only) and people
// do not. Anything else keeps the TCP peer as the client's address.

// forwarder is the controlapi.Forwarder of a node.
type forwarder struct {
	nodeID    string
	transport http.RoundTripper
	log       *slog.Logger
}

// newForwarder returns the forwarder of node nodeID: its transport is
// Config.ForwardTransport, or HTTP/1.1 over TLS verified against ca,
// presenting cert, dialing with Config.ForwardDial.
func newForwarder(cfg Config, ca *pki.CA, cert tls.Certificate) *forwarder {
	tr := cfg.ForwardTransport
	if tr == nil {
		dial := cfg.ForwardDial
		if dial == nil {
			dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		}
		tr = &http.Transport{
			DialContext: dial,
			TLSClientConfig: &tls.Config{
				MinVersion: tls.VersionTLS12,
				RootCAs:    ca.Pool(),
				NextProtos: []string{"http/1.1"},
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return &cert, nil
				},
			},
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		}
	}
	return &forwarder{nodeID: cfg.NodeID, transport: tr, log: cfg.Logger.With("component", "forward")}
}

// Forward implements controlapi.Forwarder with an
// httputil.ReverseProxy (which relays upgraded connections both ways,
// half-closes included). It refuses, calling fail with why, a request
// that was forwarded already (the loop guard) and a node without an
// https:// URL.
func (f *forwarder) Forward(w http.ResponseWriter, r *http.Request, node store.ControlNode, fail func(why string)) {
	log := f.log.With("method", r.Method, "host", r.Host, "path", r.URL.Path, "to_node", node.ID, "url", node.URL)
	failed := func(why string) {
		log.Warn("could not forward a request to another control node", "reason", why)
		fail(why)
	}
	if by := r.Header.Get(controlapi.HeaderForwardedBy); by != "" {
		failed(fmt.Sprintf("the request was forwarded here by control node %s, and a forwarded request is not forwarded again", by))
		return
	}
	if node.URL == "" {
		failed(fmt.Sprintf("control node %s advertises no URL (it runs a version without --advertise-url)", node.Label()))
		return
	}
	target, err := url.Parse(node.URL)
	if err != nil || target.Scheme != "https" || target.Host == "" {
		failed(fmt.Sprintf("control node %s advertises %q, not an https:// URL", node.Label(), node.URL))
		return
	}
	log.Debug("forwarding a request to the control node that holds it")
	person := r.RemoteAddr
	if host, _, err := net.SplitHostPort(person); err == nil {
		person = host
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the app, and the Origin check of a WebSocket
			pr.Out.Header.Set(controlapi.HeaderForwardedBy, f.nodeID)
			pr.Out.Header.Set("X-Forwarded-For", person)
		},
		Transport:     f.transport,
		FlushInterval: -1, // watch streams go on as they come
		ErrorLog:      slog.NewLogLogger(f.log.Handler(), slog.LevelWarn),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			failed(fmt.Sprintf("control node %s could not be reached at %s: %v", node.Label(), node.URL, err))
		},
	}
	rp.ServeHTTP(w, r)
}

// trustForwarded hands next the requests forwarded by another control
// node with the person's address (X-Forwarded-For) as RemoteAddr, port
// 0, when the forwarding node proved it is one (its client certificate;
// see the comment at the top of this file). Other requests go to next
// unchanged.
func trustForwarded(next http.Handler, ca *pki.CA, now func() time.Time, log *slog.Logger) http.Handler {
	roots := ca.Pool()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		by := r.Header.Get(controlapi.HeaderForwardedBy)
		xff := r.Header.Get("X-Forwarded-For")
		if by == "" || xff == "" || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if err := verifyNodeCert(r.TLS.PeerCertificates, roots, now()); err != nil {
			log.Warn("a forwarded request's client certificate is not a control node's: its X-Forwarded-For is ignored",
				"forwarded_by", by, "remote_addr", r.RemoteAddr, "err", err)
			next.ServeHTTP(w, r)
			return
		}
		ip := net.ParseIP(strings.TrimSpace(xff[strings.LastIndexByte(xff, ',')+1:]))
		if ip == nil {
			next.ServeHTTP(w, r)
			return
		}
		r2 := r.Clone(r.Context())
		r2.RemoteAddr = net.JoinHostPort(ip.String(), "0")
		next.ServeHTTP(w, r2)
	})
}

// verifyNodeCert checks that chain is a control node's certificate: a
// server certificate issued by the CA of roots.
func verifyNodeCert(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// defaultAdvertiseURL is https://HOST:PORT with PORT the API's port
// and HOST the node name when the server certificate names it (the host
// name, a --public-name), else the first public name, else the node name.
func defaultAdvertiseURL(cfg Config, leaf *x509.Certificate, port int) string {
	host := cfg.NodeName
	if leaf != nil && leaf.VerifyHostname(host) != nil && len(cfg.PublicNames) > 0 {
		host = cfg.PublicNames[0]
	}
	return "https://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// checkAdvertiseURL checks a given --advertise-url: https, a host, no
// path, query or user.
func checkAdvertiseURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "https":
		return "", errors.New("want an https:// URL")
	case u.Host == "" || u.Hostname() == "":
		return "", errors.New("no host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", errors.New("want https://HOST[:PORT] only (no path, query or user)")
	}
	return "https://" + u.Host, nil
}
