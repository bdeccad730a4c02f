package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"moments/app"
	"moments/internal/fsutil"
	"moments/media"
)

// backup is `moments backup --data DIR OUT.db`: a consistent copy of the
// database in OUT.db and of the photos in OUT.media/, taken while the
// server may be running. The token signing key (jwt-secret) is left out on
// purpose: with it, anyone who finds a backup could sign tokens the live
// instance accepts; without it, a restored instance merely signs everyone
// out (unless MOMENTS_JWT_SECRET is set, or the file is copied by hand).
func backup(ctx context.Context, env *environment, args []string) (err error) {
	flags := newFlagSet(env, "backup", "--data DIR OUT.db",
		"Write a consistent copy of an instance's database to OUT.db and its photos to OUT.media/\n"+
			"(OUT.db's name without its extension, plus .media) while the server runs. Nothing existing\n"+
			"is overwritten; OUT.db appears only once the whole backup is complete.\n\n"+
			"To restore: stop Moments and run moments restore --data DIR OUT.db. The token signing key is\n"+
			"not in the backup: restored into a new directory, everyone signs in again unless\n"+
			"MOMENTS_JWT_SECRET is set or the old jwt-secret is copied in too")
	data := dataFlag(flags, env)
	rest, err := parseFlags(flags, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) != 1 {
		return errors.New("moments backup: want exactly one output file, e.g. moments backup --data ./data backup.db")
	}
	out := rest[0]
	mediaOut := backupMediaDir(out)
	if mediaOut == out {
		return fmt.Errorf("moments backup: %s would also be the photo folder's name; choose a name not ending in .media", out)
	}
	for _, p := range []string{out, mediaOut} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("moments backup: %s already exists; choose another name", p)
		}
	}
	st, err := openExisting(ctx, env, *data, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	// Both parts are made inside one temporary folder beside OUT.db and get
	// their real names only at the end, photos first: a backup that failed
	// or was killed halfway never looks like a complete one, so "OUT.db
	// exists" means "the backup succeeded".
	tmp, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".partial-*")
	if err != nil {
		return fmt.Errorf("moments backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	tmpDB, tmpMedia := filepath.Join(tmp, "db"), filepath.Join(tmp, "media")

	// The database first, then the photos. A photo is stored (synced and
	// renamed into place) before its upload is answered, a post can name
	// only a photo that exists, and no photo file is ever changed or
	// deleted; so every photo the database copy refers to is already in
	// media/ when the folder is read afterwards. The other order could miss
	// a photo uploaded and posted between the two steps.
	if err := st.Backup(ctx, tmpDB); err != nil {
		return fmt.Errorf("moments backup: %w", err)
	}
	files, size, err := media.CopyStored(ctx, filepath.Join(*data, app.MediaDir), tmpMedia)
	if err != nil {
		return fmt.Errorf("moments backup: copying photos: %w", err)
	}
	// A rename would replace an empty directory that appeared meanwhile.
	if _, err := os.Lstat(mediaOut); err == nil {
		return fmt.Errorf("moments backup: %s already exists; choose another name", mediaOut)
	}
	if err := os.Rename(tmpMedia, mediaOut); err != nil {
		return fmt.Errorf("moments backup: %w", err)
	}
	if err := fsutil.PlaceNew(tmpDB, out); err != nil {
		os.RemoveAll(mediaOut) // ours: renamed into place just above
		return fmt.Errorf("moments backup: %w", err)
	}
	info, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "backed up the database to %s (%d bytes) and %d photo files (%d bytes) to %s\n",
		out, info.Size(), files, size, mediaOut)
	return nil
}

// backupMediaDir is where the photos of a backup written to out go: out
// without its extension, plus ".media" (backup.db → backup.media,
// backup → backup.media).
func backupMediaDir(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + ".media"
}
