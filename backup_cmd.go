package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"moments/app"
	"moments/app/media"
)

// backup is `moments backup --data DIR OUT.db`: a consistent copy of the
// database in OUT.db and of the photos in OUT.media/, taken while the
// server may be running.
func backup(ctx context.Context, env *environment, args []string) (err error) {
	fs := newFlagSet(env, "backup", "--data DIR OUT.db",
		"Write a consistent copy of an instance's database to OUT.db and its photos to OUT.media/, "+
			"while the server runs. Restore: a data directory with OUT.db renamed moments.db and "+
			"OUT.media renamed media is a working instance")
	data := dataFlag(fs, env)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) != 1 {
		return errors.New("moments backup: want exactly one output file, e.g. moments backup --data ./data backup.db")
	}
	out := rest[0]
	mediaOut := strings.TrimSuffix(out, filepath.Ext(out)) + ".media"
	for _, p := range []string{out, mediaOut} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("moments backup: %s already exists; choose another name", p)
		}
	}
	st, err := openExisting(ctx, *data, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	// The database first, then the photos: a photo is written before any
	// post can name it and never changes after, so every photo the copied
	// database refers to already exists when the photos are copied.
	if err := st.Backup(ctx, out); err != nil {
		return fmt.Errorf("moments backup: %w", err)
	}
	files, bytes, err := copyMedia(filepath.Join(*data, app.MediaDir), mediaOut)
	if err != nil {
		return fmt.Errorf("moments backup: copying photos: %w", err)
	}
	info, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "backed up the database to %s (%d bytes) and %d photo files (%d bytes) to %s\n",
		out, info.Size(), files, bytes, mediaOut)
	return nil
}

// copyMedia copies the stored photos and thumbnails (only names the media
// library makes: never temporary uploads) into a new directory.
func copyMedia(from, to string) (files int, total int64, err error) {
	if err := os.Mkdir(to, 0o700); err != nil {
		return 0, 0, err
	}
	entries, err := os.ReadDir(from)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil // an instance that never stored a photo
	}
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !media.ValidName(e.Name()) {
			continue
		}
		n, err := copyFile(filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
		if err != nil {
			return files, total, err
		}
		files++
		total += n
	}
	return files, total, nil
}

// copyFile copies one file through a temporary name, synced before rename.
func copyFile(from, to string) (int64, error) {
	src, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	tmp := to + ".partial"
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(dst, src)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return n, err
}
