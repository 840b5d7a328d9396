package api

import "time"

// FileEvent is one file operation seen in a session (SFTP, scp, web
// upload/download): `onepam sessions files ID` lists them.
type FileEvent struct {
	SessionID string    `json:"session_id"`
	Time      time.Time `json:"time"`
	// Protocol is sftp, scp or web; rdp-clipboard (Path: the clipboard
	// format, followed by the start of its text in quotes, or a copied
	// file's name; upload: to the desktop, download: to the person) or
	// rdp-drive (Path: \\tsclient\DRIVE\..., a file on the person's
	// redirected drive; upload: read by the desktop, download: written).
	Protocol string `json:"protocol"`
	// Op is one of the FileOp* constants.
	Op string `json:"op"`
	// Path is the file or directory acted upon; Path2 the second path of
	// rename and symlink (the new name, the link target).
	Path  string `json:"path"`
	Path2 string `json:"path2,omitempty"`
	// Bytes moved by upload and download (0 otherwise).
	Bytes int64 `json:"bytes"`
	// Result is "ok" or "error"; Error says why when it failed.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// File operations.
const (
	FileOpUpload   = "upload"
	FileOpDownload = "download"
	FileOpDelete   = "delete"
	FileOpRename   = "rename"
	FileOpMkdir    = "mkdir"
	FileOpRmdir    = "rmdir"
	FileOpSetstat  = "setstat"
	FileOpSymlink  = "symlink"
	FileOpList     = "list"
)

// FileOps lists every file operation.
var FileOps = []string{FileOpUpload, FileOpDownload, FileOpDelete, FileOpRename, FileOpMkdir, FileOpRmdir, FileOpSetstat, FileOpSymlink, FileOpList}

// SearchHit is one element of the JSON array GET /v1/search answers: a
// line of recorded terminal output (or typed input) that matched, with the
// session it belongs to.
type SearchHit struct {
	SessionID string `json:"session_id"`
	// OffsetSeconds is the time of the line since the session started
	// (usable with onepam sessions replay --from).
	OffsetSeconds float64     `json:"offset_seconds"`
	Input         bool        `json:"input"` // typed input rather than output
	Line          string      `json:"line"`
	User          string      `json:"user"`
	Resource      string      `json:"resource"`
	Type          SessionType `json:"type"`
	CreatedAt     time.Time   `json:"created_at"` // the session's
}

// Offset returns the hit's time in the session.
func (h SearchHit) Offset() time.Duration {
	return time.Duration(h.OffsetSeconds * float64(time.Second))
}
