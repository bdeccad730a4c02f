package main

import (
	"embed"
	"io/fs"
)

// The binary carries its schema and its web UI, so it runs from any directory
// with nothing beside it.

//go:embed migrations/*.sql
var migrationFiles embed.FS

//go:embed web
var webFiles embed.FS

// migrationsFS returns the goose SQL files at the root of the returned FS.
func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory exists
	}
	return sub
}

// webFS returns the UI's files at the root of the returned FS.
func webFS() fs.FS {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err)
	}
	return sub
}
