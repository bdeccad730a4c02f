package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"moments/internal/account"
	"moments/store"
)

// userCommand is `moments user create NAME [--admin]`. The password comes
// from stdin, never from the command line, where other users of the machine
// could read it. It works whatever MOMENTS_REGISTRATION says.
func userCommand(ctx context.Context, env *environment, args []string) (err error) {
	fs := newFlagSet(env, "user", "create NAME [--admin] [flags]",
		"Create an account; the password is read from stdin (prompted for on a terminal)")
	data := dataFlag(fs, env)
	admin := fs.Bool("admin", false, "make the account an admin")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) != 2 || rest[0] != "create" {
		return errors.New("moments user: want `create NAME` (see moments user --help)")
	}
	name := rest[1]
	password, err := readPassword(env)
	if err != nil {
		return err
	}
	if err := account.CheckNew(name, password); err != nil {
		return fmt.Errorf("moments user create: %w", err)
	}
	hash, err := account.HashPassword(password, account.DefaultPasswordCost)
	if err != nil {
		return err
	}
	// user create runs beside a server, without the directory's lock, so it
	// must not migrate: a newer binary would change the schema under an
	// older server.
	if err := requireCurrentSchema(ctx, env, *data); err != nil {
		return err
	}
	st, err := openExisting(ctx, env, *data, true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	u, err := st.CreateUser(ctx, store.NewUser{Username: name, PasswordHash: hash, Admin: *admin})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("moments user create: the username %q is taken (names are unique ignoring case)", name)
	}
	if err != nil {
		return err
	}
	role := "user"
	if u.IsAdmin {
		role = "admin"
	}
	fmt.Fprintf(env.stdout, "created %s %q (id %d)\n", role, u.Username, u.ID)
	return nil
}

// readPassword reads one line from stdin; on a terminal it prompts twice
// without echo.
func readPassword(env *environment) (string, error) {
	if f, ok := env.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(env.stderr, "Password: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.stderr, "Again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.stderr)
		if err != nil {
			return "", err
		}
		if string(first) != string(second) {
			return "", errors.New("moments user create: the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(io.LimitReader(env.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("moments user create: no password on stdin (e.g. `moments user create alice < password.txt`)")
	}
	return line, nil
}

// requireCurrentSchema refuses a database whose schema is older than this
// binary's.
func requireCurrentSchema(ctx context.Context, env *environment, dir string) (err error) {
	st, err := openExisting(ctx, env, dir, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := st.LatestVersion(); v < latest {
		return fmt.Errorf("moments user create: the database in %s is at schema version %d and this binary's is %d; "+
			"upgrade it first by starting the new server on it (or moments migrate up with the server stopped)", dir, v, latest)
	}
	return nil
}
