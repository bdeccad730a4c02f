package fsutil

import (
	"errors"
	"os"
	"path/filepath"
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
