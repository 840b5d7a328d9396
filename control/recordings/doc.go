// Package recordings stores session recordings as blobs keyed by session id
// and recording format. Store is the interface control uses (the agent
// gateway writes uploaded chunks, the API reads recordings back); Dir is
// the local-directory implementation, laid out as
//
//	<root>/<session id>/recording.<ext>
//
// with ext .jsonl (connlog, querylog), .cast (asciicast), .har (har) and
// .dpr (deskproto). An S3-compatible bucket implements the same interface
// later.
package recordings
