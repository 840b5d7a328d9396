package postgres

import (
	"crypto/md5" // #nosec G501: PostgreSQL's md5 authentication is defined with MD5
	"encoding/hex"
)

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}
