package ssh

import (
	"os"
	"strconv"
	"syscall"
)

func fileOwner(fi os.FileInfo) string {
	return strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Uid), 10)
}
