package datalock_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"moments/internal/datalock"
)

func TestOneHolderAtATime(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "data")
	first, err := datalock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, mode %v", err, fi.Mode())
	}
	file := filepath.Join(dir, datalock.File)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v, mode %v", err, fi.Mode())
	}
	if b, _ := os.ReadFile(file); strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("the lock file holds %q, want this process's ID", b)
	}

	_, err = datalock.Acquire(dir)
	var inUse *datalock.InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v", err)
	}
	want := dir + " is in use by another Moments process (pid " + strconv.Itoa(os.Getpid()) + "); stop it first"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := datalock.Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
}

// A holder that has not written its ID yet is still refused, just without
// a number.
func TestInUseWithoutPID(t *testing.T) {
	t.Parallel()
	err := &datalock.InUseError{Dir: "/srv/data"}
	if got := err.Error(); got != "/srv/data is in use by another Moments process; stop it first" {
		t.Errorf("%q", got)
	}
}

func TestDataDirIsAFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := datalock.Acquire(file); err == nil {
		t.Fatal("a lock in a file")
	}
}
