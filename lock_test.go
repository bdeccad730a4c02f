package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second server (or a migration) on a data directory a server is using
// is refused with one line naming the directory and the process, while
// the commands made to run beside a server still do.
func TestOneServerPerDataDirectory(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	first := start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil)
	newClient(t, first.url, "alice", "alice-password").post("hello")
	want := fmt.Sprintf("%s is in use by another Moments process (pid %d); stop it first", data, os.Getpid())

	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data", data},
		{"migrate", "status", "--data", data},
		{"migrate", "up", "--data", data},
	} {
		// Were it not refused, the second server would run until the timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out bytes.Buffer
		err := run(ctx, args, envFrom(nil), strings.NewReader(""), &out, io.Discard)
		cancel()
		if err == nil || err.Error() != want {
			t.Errorf("%v beside a server: %v, want %q", args, err, want)
		}
		if out.Len() != 0 {
			t.Errorf("%v wrote %q", args, out.String())
		}
	}

	var out bytes.Buffer
	if err := run(context.Background(), []string{"backup", "--data", data, filepath.Join(t.TempDir(), "b.db")},
		envFrom(nil), strings.NewReader(""), &out, io.Discard); err != nil {
		t.Errorf("backup beside a server: %v", err)
	}
	if err := run(context.Background(), []string{"user", "create", "bob", "--data", data},
		envFrom(nil), strings.NewReader("bob-password\n"), &out, io.Discard); err != nil {
		t.Errorf("user create beside a server: %v", err)
	}
	signIn(t, first.url, "bob", "bob-password")

	// The lock goes with the server.
	first.stop(t)
	start(t, []string{"--addr", "127.0.0.1:0", "--data", data}, nil).stop(t)
}

// The real binary: the second process exits with status 1 and one line on
// stderr naming the first one's process ID.
func TestSecondServerProcessIsRefused(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	first := startBinary(t, data) // killed at cleanup
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, momentsBinary(t), "serve", "--addr", "127.0.0.1:0", "--data", data)
	var stdout, stderr bytes.Buffer
	second.Stdout, second.Stderr = &stdout, &stderr
	err := second.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("second server: %v\n%s", err, stderr.String())
	}
	want := fmt.Sprintf("moments: %s is in use by another Moments process (pid %d); stop it first\n", data, first.cmd.Process.Pid)
	if stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("stderr %q (want %q), stdout %q", stderr.String(), want, stdout.String())
	}
}
