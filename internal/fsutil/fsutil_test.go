package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PlaceNew puts a file under its new name and takes the temporary name
// away; it never replaces a file or a directory already there.
func TestPlaceNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tmp, dest := filepath.Join(dir, "tmp"), filepath.Join(dir, "dest")
	if err := os.WriteFile(tmp, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := PlaceNew(tmp, dest); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dest); err != nil || string(got) != "new" {
		t.Fatalf("dest holds %q, %v", got, err)
	}
	if _, err := os.Lstat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary name is still there: %v", err)
	}

	for _, taken := range []string{"file", "dir"} {
		os.WriteFile(tmp, []byte("second"), 0o600)
		dest := filepath.Join(dir, taken)
		if taken == "dir" {
			os.Mkdir(dest, 0o700)
		} else {
			os.WriteFile(dest, []byte("old"), 0o600)
		}
		if err := PlaceNew(tmp, dest); !errors.Is(err, ErrExists) {
			t.Errorf("%s already there: %v", taken, err)
		}
		if taken == "file" {
			if got, _ := os.ReadFile(dest); string(got) != "old" {
				t.Errorf("the existing file was replaced: %q", got)
			}
		}
	}
}

func TestCopies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(path string) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", path, err, fi.Mode())
		}
		if got, _ := os.ReadFile(path); string(got) != "content" {
			t.Errorf("%s holds %q", path, got)
		}
	}

	dest := filepath.Join(dir, "new")
	if n, err := CopyNew(src, dest); err != nil || n != 7 {
		t.Fatalf("CopyNew: %d, %v", n, err)
	}
	check(dest)
	if _, err := CopyNew(src, dest); !errors.Is(err, os.ErrExist) {
		t.Errorf("CopyNew over an existing file: %v", err)
	}
	if _, err := CopyNew(filepath.Join(dir, "missing"), filepath.Join(dir, "never")); err == nil {
		t.Error("CopyNew of a missing file")
	}
	if _, err := os.Lstat(filepath.Join(dir, "never")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed CopyNew left its file: %v", err)
	}

	tmp, err := CopyTemp(src, dir, "db.tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(tmp) != dir || !strings.HasPrefix(filepath.Base(tmp), "db.tmp-") {
		t.Errorf("temporary name %s", tmp)
	}
	check(tmp)
	before, _ := os.ReadDir(dir)
	if _, err := CopyTemp(filepath.Join(dir, "missing"), dir, "db.tmp-*"); err == nil {
		t.Error("CopyTemp of a missing file")
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("a failed CopyTemp left a file: %d entries, then %d", len(before), len(after))
	}
}
