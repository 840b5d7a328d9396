package httpproxy

import (
	"net/http"
	"strings"

	"github.com/onepam/onepam/recordfmt/har"
)

// entry builds the HAR entry of a fast exchange: the same entry
// exchange.entry builds for the request on the net/http path.
func (fc *fastConn) entry(x *fastX) *har.Entry {
	s := fc.s
	end := x.bodyEnd
	if end.IsZero() {
		end = s.now()
	}
	proto := x.proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	host := fc.fs.host
	method := x.rq.method
	// The entry and its lists are fc's, used again for the next entry
	// (the encoder is done with them once it returns).
	e := &fc.e
	reqHeaders := append(e.Request.Headers[:0], har.NameValue{Name: "Host", Value: host})
	respHeaders := e.Response.Headers[:0]
	size := len(method) + 1 + len(x.uri) + 1 + len(proto) + 4 + len("Host: \r\n") + len(host)
	var cookies []string
	for _, f := range x.up {
		reqHeaders = append(reqHeaders, har.NameValue{Name: f.name, Value: f.value})
		size += len(f.name) + len(f.value) + 4
		if f.name == "Cookie" {
			cookies = append(cookies, f.value)
		}
	}
	var reqCookies []har.Cookie
	if cookies != nil {
		reqCookies = har.RequestCookies(http.Header{"Cookie": cookies})
	}
	_, query, _ := strings.Cut(x.uri, "?")
	contentType, _ := firstValue(x.up, "Content-Type")
	post, bodySize := requestBody(contentType, &x.reqCap)
	*e = har.Entry{
		StartedDateTime: har.FormatTime(x.start),
		Request: har.Request{
			Method: method, URL: x.url, HTTPVersion: proto,
			Cookies: reqCookies, Headers: reqHeaders, QueryString: har.Query(query),
			PostData: post, HeadersSize: int64(size), BodySize: bodySize,
		},
		Timings:         x.timings(end),
		ServerIPAddress: x.serverIP,
		Connection:      fc.connID,
		Conn:            fc.cc.open.ConnID,
		T:               s.since(x.start),
	}
	if x.status != 0 {
		size := len(proto) + 1 + digits(x.status) + 1 + len(x.text) + 4
		var setCookies []string
		var mt, enc, loc string
		var haveMT, haveEnc, haveLoc bool
		for _, f := range x.rec {
			respHeaders = append(respHeaders, har.NameValue{Name: f.name, Value: f.value})
			size += len(f.name) + len(f.value) + 4
			switch {
			case f.name == "Set-Cookie":
				setCookies = append(setCookies, f.value)
			case f.name == "Content-Type" && !haveMT:
				mt, haveMT = f.value, true
			case f.name == "Content-Encoding" && !haveEnc:
				enc, haveEnc = f.value, true
			case f.name == "Location" && !haveLoc:
				loc, haveLoc = f.value, true
			}
		}
		var respCookies []har.Cookie
		if setCookies != nil {
			respCookies = har.ResponseCookies(http.Header{"Set-Cookie": setCookies})
		}
		e.Response = har.Response{
			Status: x.status, StatusText: x.text, HTTPVersion: proto,
			Cookies: respCookies, Headers: respHeaders,
			Content:     contentOf(mt, enc, &x.respCap),
			RedirectURL: loc,
			HeadersSize: int64(size),
			BodySize:    x.respCap.N,
		}
	} else {
		// No response reached the person.
		e.Response = har.Response{HTTPVersion: proto, Headers: respHeaders, HeadersSize: -1, BodySize: -1, Content: har.Content{MimeType: "x-unknown"}}
	}
	e.Comment = entryComment(x.err, "", e)
	e.Time = e.Timings.Total()
	return e
}

// digits is the length of n in decimal.
func digits(n int) int {
	d := 1
	if n < 0 {
		d, n = 2, -n
	}
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}
