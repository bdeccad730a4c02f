package media

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"moments/internal/fsutil"
)

// CopyStored copies the photos and thumbnails stored in the directory from
// into a new directory to (0700, files 0600), each synced, for backups and
// restores. Only names the library makes are copied: never its temporary
// uploads, nor anything else put there. It needs no Library, whose Open
// would clear the temporary files of a server running on from. Atomicity
// comes from the caller renaming the whole directory into place.
func CopyStored(ctx context.Context, from, to string) (files int, total int64, err error) {
	if err := os.Mkdir(to, 0o700); err != nil {
		return 0, 0, err
	}
	entries, err := os.ReadDir(from)
	if errors.Is(err, fs.ErrNotExist) {
		entries = nil // an instance that never stored a photo
	} else if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return files, total, err
		}
		if !e.Type().IsRegular() || !ValidName(e.Name()) {
			continue
		}
		n, err := fsutil.CopyNew(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
		if err != nil {
			return files, total, err
		}
		files++
		total += n
	}
	return files, total, fsutil.SyncDir(to)
}
