// Package datalock keeps a data directory to one Moments process at a time:
// a second server on the same files would fail every write it tried and
// would not see the first one's changes (its caches are its own).
//
// The lock is an exclusive advisory lock on a file in the directory, held
// for as long as the process needs the directory. The operating system
// drops it when the process ends, however it ends, so a crash never leaves
// a stale lock behind. The file holds the holder's process ID, so the
// refusal can name it.
package datalock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File is the lock file's name inside the data directory.
const File = "moments.lock"

// InUseError is returned by Acquire when another process holds the lock.
type InUseError struct {
	Dir string
	PID int // 0 when the holder has not written its ID yet
}

func (e *InUseError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("%s is in use by another Moments process; stop it first", e.Dir)
	}
	return fmt.Sprintf("%s is in use by another Moments process (pid %d); stop it first", e.Dir, e.PID)
}

// Lock is a held lock on a data directory.
type Lock struct {
	f *os.File
}

// Acquire creates dir (0700) if it is missing and takes its lock without
// waiting: if another process holds it, the error is an *InUseError naming
// dir as given and the holder's process ID.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, File), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// Most often a read-only file system: the first write any command
		// of a data directory makes is this one.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("the data directory %s does not take writes (%w)", dir, err)
	}
	held, err := lock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	if !held {
		pid := holder(f)
		f.Close()
		return nil, &InUseError{Dir: dir, PID: pid}
	}
	// The ID is written only once the lock is ours, so it always names the
	// current holder (or nobody, for an instant).
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("write the lock file: %w", err)
	}
	return &Lock{f: f}, nil
}

// holder reads the process ID the holder wrote; 0 if there is none yet.
func holder(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release gives the lock up. The file stays: removing it would let a
// process that opened it just before take a lock on a name no longer in
// the directory, while a third one locks a new file under that name.
func (l *Lock) Release() error {
	// No stale ID in the file for whoever reads it next.
	l.f.Truncate(0)
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
