//go:build unix

package web

import "syscall"

// OpenFileLimit is the process's soft RLIMIT_NOFILE (0 if it cannot be read). Read it at
// start: the Go runtime has already raised the soft limit to the hard one by then.
func OpenFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return uint64(l.Cur)
}
