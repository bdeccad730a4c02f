//go:build unix

package connlimit

import "syscall"

// DefaultMaxConns is the total bound when Config leaves it unset: the
// process's soft limit on open files, less 256 for the database, media
// files and uploads, and at least 64. Go raises the soft limit to the hard
// limit when the process starts, so this is the most the system allows.
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fixedMaxConns
	}
	return maxConnsFor(uint64(rl.Cur))
}
