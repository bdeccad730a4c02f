// Package fsutil holds the few file-system steps that make writes durable
// and never replace what is already there.
package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrExists is returned by PlaceNew when dest is already taken.
var ErrExists = errors.New("already exists")

// PlaceNew gives the complete file tmp the name dest in the same directory,
// refusing to replace anything already there, and syncs the directory so
// the new name survives a power cut. tmp is gone afterwards unless an error
// is returned.
func PlaceNew(tmp, dest string) error {
	// A hard link fails rather than replace a file that appeared since the
	// caller looked. File systems without hard links (FAT and exFAT drives,
	// some network shares: a common home for backups) fall back to a
	// rename after one more look.
	if err := os.Link(tmp, dest); err == nil {
		if err := os.Remove(tmp); err != nil {
			return err
		}
		return SyncDir(filepath.Dir(dest))
	} else if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s %w; choose another name", dest, ErrExists)
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s %w; choose another name", dest, ErrExists)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dest))
}

// SyncDir makes a rename, link or new entry in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// DiskFull reports whether err comes from a file system out of space, or
// out of the user's quota: the one failure an operator fixes by making room.
func DiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
