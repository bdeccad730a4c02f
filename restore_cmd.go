package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"moments/app"
	"moments/internal/datalock"
	"moments/internal/fsutil"
	"moments/media"
	"moments/store"
)

// restore is `moments restore --data DIR BACKUP.db`: it puts a backup (or
// a pre-migrate copy from DIR/backups) in place of DIR's database, and the
// photos of BACKUP.media/ in place of DIR/media when that folder exists.
// What it replaces is kept aside under a .before-restore-TIME name; the
// token signing key (jwt-secret) is left as it is.
func restore(ctx context.Context, env *environment, args []string) (err error) {
	flags := newFlagSet(env, "restore", "--data DIR BACKUP.db",
		"Replace an instance's database by BACKUP.db, and its photos by BACKUP.media/ when that folder\n"+
			"exists (what `moments backup` writes). Moments must be stopped. The backup is checked first\n"+
			"(SQLite's integrity_check, a Moments schema this binary can run). The replaced database is\n"+
			"kept as moments.db.before-restore-TIME and the replaced photos as media.before-restore-TIME;\n"+
			"jwt-secret is not touched. DIR may be new. A backup of an older version is migrated by the\n"+
			"next moments serve.\n\n"+
			"BACKUP.db may also be a copy from DIR/backups/pre-migrate-*.db, made before each upgrade, to\n"+
			"go back to the version before it; those have no photo folder, so media/ is left as it is")
	data := dataFlag(flags, env)
	rest, err := parseFlags(flags, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) != 1 {
		return errors.New("moments restore: want exactly one backup file, e.g. moments restore --data ./data backup.db")
	}
	from := rest[0]
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("moments restore: %w", err)
	}
	// Held until the end: no server may start on a half-restored directory.
	lock, err := datalock.Acquire(*data)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()

	dbPath := filepath.Join(*data, store.DBFile)
	if same(from, dbPath) {
		return fmt.Errorf("moments restore: %s is the database of %s itself", from, *data)
	}
	info, err := store.CheckBackup(ctx, from, migrationsFS())
	if err != nil {
		return fmt.Errorf("moments restore: %w", err)
	}
	fmt.Fprintf(env.stdout, "checked %s: intact, a Moments database at schema version %d\n", from, info.Version)

	stamp := ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
	mediaDir := filepath.Join(*data, app.MediaDir)
	for _, p := range []string{dbPath + stamp, dbPath + stamp + "-wal", dbPath + stamp + "-shm", mediaDir + stamp} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("moments restore: %s already exists; try again in a second", p)
		}
	}
	mediaFrom := backupMediaDir(from)
	withMedia := mediaFrom != from && isDir(mediaFrom)

	// The slow steps that can fail (copying) come first, under temporary
	// names in DIR; the renames that put the copies in place come last and
	// are quick, so a failure or a kill leaves DIR as it was (give or take
	// a temporary file) in all but a moment.
	var tmpMedia string
	var files int
	var size int64
	if withMedia {
		parent, err := os.MkdirTemp(*data, app.MediaDir+".restore-*")
		if err != nil {
			return fmt.Errorf("moments restore: %w", err)
		}
		defer os.RemoveAll(parent)
		tmpMedia = filepath.Join(parent, app.MediaDir)
		if files, size, err = media.CopyStored(ctx, mediaFrom, tmpMedia); err != nil {
			return fmt.Errorf("moments restore: copying photos: %w", err)
		}
	}
	tmpDB, err := fsutil.CopyTemp(from, *data, store.DBFile+".restore-*")
	if err != nil {
		return fmt.Errorf("moments restore: copying the database: %w", err)
	}
	defer os.Remove(tmpDB) // fails harmlessly once renamed

	// The -wal and -shm go with their database: beside the kept copy it
	// stays whole, and beside the restored one SQLite would replay them
	// into it.
	var kept []string
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(dbPath+suffix, dbPath+stamp+suffix); err == nil {
			kept = append(kept, dbPath+stamp+suffix)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moments restore: keeping the replaced database: %w", err)
		}
	}
	if err := os.Rename(tmpDB, dbPath); err != nil {
		return fmt.Errorf("moments restore: %w", err)
	}
	if err := fsutil.SyncDir(*data); err != nil {
		return fmt.Errorf("moments restore: %w", err)
	}
	if len(kept) > 0 {
		fmt.Fprintf(env.stdout, "kept the replaced database as %s\n", strings.Join(kept, ", "))
	}
	fi, err := os.Stat(dbPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "restored the database from %s to %s (%d bytes)\n", from, dbPath, fi.Size())

	if !withMedia {
		fmt.Fprintf(env.stdout, "no photo folder %s beside the backup; the photos in %s are left as they are\n", mediaFrom, mediaDir)
	} else {
		if err := os.Rename(mediaDir, mediaDir+stamp); err == nil {
			fmt.Fprintf(env.stdout, "kept the replaced photos as %s\n", mediaDir+stamp)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("moments restore: keeping the replaced photos: %w", err)
		}
		if err := os.Rename(tmpMedia, mediaDir); err != nil {
			return fmt.Errorf("moments restore: %w", err)
		}
		if err := fsutil.SyncDir(*data); err != nil {
			return fmt.Errorf("moments restore: %w", err)
		}
		fmt.Fprintf(env.stdout, "restored %d photo files (%d bytes) from %s to %s\n", files, size, mediaFrom, mediaDir)
	}
	if info.Version < info.Latest {
		fmt.Fprintf(env.stdout, "the next moments serve migrates the database from version %d to %d, keeping a copy in %s first\n",
			info.Version, info.Latest, filepath.Join(*data, store.SnapshotDir))
	}
	return nil
}

// same reports whether two paths name one existing file.
func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
