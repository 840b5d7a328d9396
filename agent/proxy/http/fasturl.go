package httpproxy

import (
	"net/url"
	"strings"
)

// fastURL maps a request-target (fastTarget) onto the upstream as
// ReverseProxy's SetURL does: the request URI sent upstream and the
// absolute URL the entry shows.
func (s *session) fastURL(target string) (uri, full string, ok bool) {
	path, query, hasQuery := strings.Cut(target, "?")
	if plainPath(path) && s.base.RawPath == "" && s.base.RawQuery == "" && strings.HasPrefix(path, "/") {
		uri = singleJoiningSlash(s.base.Path, path)
		if hasQuery {
			uri += "?" + query
		}
		return uri, s.fast.origin + uri, true
	}
	in, err := url.ParseRequestURI(target)
	if err != nil {
		return "", "", false
	}
	out := *s.base
	out.Path, out.RawPath = joinURLPath(s.base, in)
	if s.base.RawQuery == "" || in.RawQuery == "" {
		out.RawQuery = s.base.RawQuery + in.RawQuery
	} else {
		out.RawQuery = s.base.RawQuery + "&" + in.RawQuery
	}
	out.ForceQuery = in.ForceQuery
	return out.RequestURI(), out.String(), true
}

// plainPath reports whether p needs no escaping in a URL path (so that
// url.URL keeps it as it is).
func plainPath(p string) bool {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-_.~$&+,/:;=@", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// singleJoiningSlash and joinURLPath are ReverseProxy's.
func singleJoiningSlash(a, b string) string {
	aslash := strings.HasSuffix(a, "/")
	bslash := strings.HasPrefix(b, "/")
	switch {
	case aslash && bslash:
		return a + b[1:]
	case !aslash && !bslash:
		return a + "/" + b
	}
	return a + b
}

func joinURLPath(a, b *url.URL) (path, rawpath string) {
	if a.RawPath == "" && b.RawPath == "" {
		return singleJoiningSlash(a.Path, b.Path), ""
	}
	apath := a.EscapedPath()
	bpath := b.EscapedPath()
	aslash := strings.HasSuffix(apath, "/")
	bslash := strings.HasPrefix(bpath, "/")
	switch {
	case aslash && bslash:
		return a.Path + b.Path[1:], apath + bpath[1:]
	case !aslash && !bslash:
		return a.Path + "/" + b.Path, apath + "/" + bpath
	}
	return a.Path + b.Path, apath + bpath
}
