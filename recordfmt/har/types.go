package har

// The HAR 1.2 objects. Field order and names follow the specification;
// fields the specification marks optional are omitted when empty, the
// required arrays are always written (empty, never null).

// Log is the root object of a HAR document ({"log": Log}).
type Log struct {
	Version string  `json:"version"` // "1.2"
	Creator Creator `json:"creator"`
	Pages   []Page  `json:"pages"`
	Entries []Entry `json:"entries"`
	Comment string  `json:"comment,omitempty"`
}

// Document is a whole HAR file.
type Document struct {
	Log Log `json:"log"`
}

// Creator names the application that wrote the log.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// Page groups entries; onepam exports one page per session.
type Page struct {
	StartedDateTime string      `json:"startedDateTime"`
	ID              string      `json:"id"`
	Title           string      `json:"title"`
	PageTimings     PageTimings `json:"pageTimings"`
	Comment         string      `json:"comment,omitempty"`
}

// PageTimings are not measured by a proxy: both are -1.
type PageTimings struct {
	OnContentLoad float64 `json:"onContentLoad"`
	OnLoad        float64 `json:"onLoad"`
}

// Entry is one request/response exchange. Conn, T and the WebSocket fields
// are onepam's custom fields (the specification allows names starting with
// "_").
type Entry struct {
	Pageref         string   `json:"pageref,omitempty"`
	StartedDateTime string   `json:"startedDateTime"` // RFC 3339 with milliseconds
	Time            float64  `json:"time"`            // ms, sum of the non-negative timings but ssl
	Request         Request  `json:"request"`
	Response        Response `json:"response"`
	Cache           Cache    `json:"cache"`
	Timings         Timings  `json:"timings"`
	ServerIPAddress string   `json:"serverIPAddress,omitempty"`
	Connection      string   `json:"connection,omitempty"`
	Comment         string   `json:"comment,omitempty"`

	// Conn is the connection number within the session (api.ConnOpen.ConnID).
	Conn int64 `json:"_conn"`
	// T is when the exchange started, in seconds since the session started.
	T float64 `json:"_t"`
	// WebSocket holds the byte counts of an upgraded connection.
	WebSocket *WebSocketStats `json:"_webSocket,omitempty"`
	// WebSocketMessages are the messages of an upgraded WebSocket
	// connection, in the form Chrome's developer tools export and import.
	WebSocketMessages []WebSocketMessage `json:"_webSocketMessages,omitempty"`
}

// Request is the request as it was sent upstream.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	PostData    *PostData   `json:"postData,omitempty"`
	HeadersSize int64       `json:"headersSize"` // -1: unknown
	BodySize    int64       `json:"bodySize"`    // -1: unknown
	Comment     string      `json:"comment,omitempty"`
}

// Response is the response as it came from upstream (or the proxy's own
// error page).
type Response struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []Cookie    `json:"cookies"`
	Headers     []NameValue `json:"headers"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Comment     string      `json:"comment,omitempty"`
}

// Cookie is one cookie of a Cookie or Set-Cookie header.
type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// NameValue is a header or a query string parameter.
type NameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Comment string `json:"comment,omitempty"`
}

// PostData is a request body.
type PostData struct {
	MimeType string  `json:"mimeType"`
	Params   []Param `json:"params,omitempty"`
	Text     string  `json:"text,omitempty"` // omitted when Params is set (the two are exclusive)
	Comment  string  `json:"comment,omitempty"`
	// Encoding is "base64" when Text holds a binary body in base64 (the
	// counterpart of Content.Encoding; a custom field).
	Encoding string `json:"_encoding,omitempty"`
}

// Param is one field of a form body.
type Param struct {
	Name        string `json:"name"`
	Value       string `json:"value,omitempty"`
	FileName    string `json:"fileName,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Comment     string `json:"comment,omitempty"`
}

// Content is a response body.
type Content struct {
	Size        int64  `json:"size"` // the real decoded size, also when Text was cut
	Compression int64  `json:"compression,omitempty"`
	MimeType    string `json:"mimeType"`
	Text        string `json:"text,omitempty"`
	Encoding    string `json:"encoding,omitempty"` // "base64" for binary bodies
	Comment     string `json:"comment,omitempty"`
}

// Cache is always empty: a proxy sees no browser cache.
type Cache struct {
	Comment string `json:"comment,omitempty"`
}

// Timings are in milliseconds; -1 where a phase did not happen (a reused
// connection has no dns, connect or ssl time).
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"` // includes ssl
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
	Comment string  `json:"comment,omitempty"`
}

// Total is the entry time the specification asks for: the sum of the
// non-negative timings, ssl excluded (it is part of connect).
func (t Timings) Total() float64 {
	var s float64
	for _, v := range []float64{t.Blocked, t.DNS, t.Connect, t.Send, t.Wait, t.Receive} {
		if v > 0 {
			s += v
		}
	}
	return s
}

// WebSocketStats counts the bytes of an upgraded connection after the 101.
type WebSocketStats struct {
	BytesUp   int64 `json:"bytesUp"`   // person → upstream
	BytesDown int64 `json:"bytesDown"` // upstream → person
	Messages  int64 `json:"messages"`  // data messages seen both ways
	Dropped   int64 `json:"dropped"`   // messages not kept (over MaxWebSocketMessages)
}

// WebSocketMessage is one WebSocket data message as Chrome exports it.
type WebSocketMessage struct {
	Type   string  `json:"type"`   // "send" (person → upstream) or "receive"
	Time   float64 `json:"time"`   // unix seconds, fractional
	Opcode int     `json:"opcode"` // 1 text, 2 binary (base64 in Data)
	Data   string  `json:"data"`
}
