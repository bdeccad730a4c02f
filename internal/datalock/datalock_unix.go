//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly || illumos

package datalock

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive flock on f without waiting. flock locks belong to
// the open file, not the process, so a second Acquire in the same process
// is refused too, which lets tests run two commands in one process.
func lock(f *os.File) (held bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
