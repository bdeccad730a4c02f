// Command moments is a self-hosted moments feed in one binary: an embedded
// SQLite database, a self-documenting JSON API and a web UI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"moments/app"
	"moments/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "moments:", err)
		os.Exit(1)
	}
}

// command is one subcommand of the moments binary.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *environment, args []string) error
}

// environment is what a command may touch of the outside world.
type environment struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func commands() []command {
	return []command{
		{"serve", "[flags]", "run the server (the default)", serve},
		{"migrate", "status|up|down [flags]", "show or change the database schema version", migrate},
		{"user", "create NAME [--admin] [flags]", "create an account; the password is read from stdin", userCommand},
		{"backup", "--data DIR OUT.db", "write a consistent copy of a running instance's database and media", backup},
		{"restore", "--data DIR BACKUP.db", "put a backup in place of a stopped instance's database and media", restore},
		{"version", "", "print the version", printVersion},
	}
}

// run is the whole program; main only adds the process around it, so tests
// can start and stop Moments in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		return serve(ctx, env, args)
	}
	if isHelp(args[0]) || args[0] == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	return fmt.Errorf("unknown command %q (see moments --help)", args[0])
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

func usage(w io.Writer) {
	fmt.Fprintln(w, "Moments: a self-hosted moments feed in one binary.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: moments <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `moments <command> --help` for a command's flags.")
}

// newFlagSet makes a flag set that reports errors as one line and prints its
// help to stdout.
func newFlagSet(env *environment, name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet("moments "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(env.stdout)
		fmt.Fprintf(env.stdout, "Usage: moments %s %s\n\n%s.\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args, allowing flags before, between and after the
// positional arguments (`moments migrate status --data DIR`), and returns
// the positional ones. errHelp means help was printed and the command should
// stop successfully.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp // Parse has printed the usage
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w (see %s --help)", fs.Name(), err, fs.Name())
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

var errHelp = errors.New("help shown")

// helped turns errHelp into success.
func helped(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func printVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "version", "", "Print the version")
	if _, err := parseFlags(fs, args); err != nil {
		return helped(err)
	}
	fmt.Fprintln(env.stdout, "moments", version)
	return nil
}

// dataFlag adds --data with MOMENTS_DATA as its default.
func dataFlag(fs *flag.FlagSet, env *environment) *string {
	def := env.getenv("MOMENTS_DATA")
	if def == "" {
		def = app.DefaultConfig().DataDir
	}
	return fs.String("data", def, "data directory [MOMENTS_DATA]")
}

// openExisting opens a data directory for a maintenance command: it must
// already be one (an instance that has run), or the command would quietly
// create an empty database somewhere unexpected.
func openExisting(ctx context.Context, env *environment, dir string, migrate bool) (*store.Store, error) {
	if err := requireDatabase(dir); err != nil {
		return nil, err
	}
	return store.Open(ctx, dir, store.Options{
		Migrations:  migrationsFS(),
		SkipMigrate: !migrate,
		OnSnapshot:  func(snap store.Snapshot) { printSnapshot(env.stdout, snap) },
	})
}

// printSnapshot says where the copy made before migrating is.
func printSnapshot(w io.Writer, snap store.Snapshot) {
	removed := ""
	switch snap.Removed {
	case 0:
	case 1:
		removed = fmt.Sprintf("; removed the oldest copy, keeping the newest %d", store.KeepSnapshots)
	default:
		removed = fmt.Sprintf("; removed the %d oldest copies, keeping the newest %d", snap.Removed, store.KeepSnapshots)
	}
	fmt.Fprintf(w, "copied the database at version %d to %s before migrating it to %d%s\n",
		snap.From, snap.Path, snap.To, removed)
}

// requireDatabase refuses a directory that holds no Moments database.
func requireDatabase(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err != nil {
		return fmt.Errorf("%s holds no Moments database (%s); start the server once or check --data", dir, store.DBFile)
	}
	return nil
}
