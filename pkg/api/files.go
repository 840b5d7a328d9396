package api

import "time"

// FileEvent is one file operation seen in a session (SFTP, scp, web
// upload/download): `onepam sessions files ID` lists them.
type FileEvent struct {
	SessionID string    `json:"session_id"`
	Time      time.Time `json:"time"`
	// Protocol is sftp, scp or web.
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
