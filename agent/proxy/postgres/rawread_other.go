//go:build !linux

package postgres

import "syscall"

func (pc *pgConn) serverLoopRaw(*inbuf, syscall.RawConn) error { panic("unreachable") }
