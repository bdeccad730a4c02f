package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"moments/internal/datalock"
)

func migrate(ctx context.Context, env *environment, args []string) (err error) {
	fs := newFlagSet(env, "migrate", "status|up|down [flags]",
		"Show the schema version (status), apply pending migrations (up) or roll back the newest (down)")
	data := dataFlag(fs, env)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) != 1 {
		return errors.New("moments migrate: want exactly one of status, up, down (see moments migrate --help)")
	}
	action := rest[0]
	if action != "status" && action != "up" && action != "down" {
		return fmt.Errorf("moments migrate: unknown action %q; want status, up or down", action)
	}
	// Checked before locking, which would create the directory.
	if err := requireDatabase(*data); err != nil {
		return err
	}
	// A schema changed under a running server breaks its prepared
	// statements and cached rows. Every action takes the lock, so the rule
	// is simply: migrate with the server stopped.
	lock, err := datalock.Acquire(*data)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	st, err := openExisting(ctx, env, *data, false)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	switch action {
	case "up":
		applied, err := st.MigrateUp(ctx)
		if err != nil {
			return err
		}
		if len(applied) == 0 {
			fmt.Fprintln(env.stdout, "no pending migrations")
		}
		for _, v := range applied {
			fmt.Fprintf(env.stdout, "applied %05d\n", v)
		}
	case "down":
		v, err := st.MigrateDown(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "rolled back %05d\n", v)
	}
	status, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, m := range status {
		state := "pending"
		if m.Applied {
			state = "applied " + m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(env.stdout, "%05d  %-28s %s\n", m.Version, m.Name, state)
	}
	return nil
}
