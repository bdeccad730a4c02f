package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"moments/app"
	"moments/app/clientip"
	"moments/internal/connlimit"
	"moments/internal/datalock"
	"moments/internal/logbuf"
	"moments/internal/onewrite"
	"moments/internal/rawerror"
	"moments/store"
)

func serve(ctx context.Context, env *environment, args []string) (err error) {
	fs := newFlagSet(env, "serve", "[flags]", "Run the Moments server")
	load := app.BindFlags(fs, env.getenv)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return helped(err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("moments serve: unexpected argument %q (see moments serve --help)", rest[0])
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	// A second server on the same files would fail every write and keep
	// serving from caches that miss the first one's changes.
	lock, err := datalock.Acquire(cfg.DataDir)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, lock.Release()) }()
	// Request lines are batched (see logBuffer); the last ones are written
	// when serve returns.
	logs := logbuf.New(env.stderr, logDelay)
	defer logs.Flush()
	log := slog.New(app.LogRequestIDs(logbuf.Handler(newLogHandler(cfg.LogFormat, logs), logs, slog.LevelWarn)))

	st, err := store.Open(ctx, cfg.DataDir, store.Options{
		Migrations:  migrationsFS(),
		Synchronous: cfg.Synchronous,
		NoFeedCache: !cfg.FeedCache,
		PublicPosts: cfg.PublicPosts,
		Logger:      log,
		OnSnapshot: func(snap store.Snapshot) {
			log.Info("copied the database before migrating it", "from", snap.From, "to", snap.To,
				"copy", snap.Path, "older_copies_removed", snap.Removed)
		},
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	handler, err := app.NewServer(app.Deps{
		Config:  cfg,
		Store:   st,
		Logger:  log,
		Web:     webFS(),
		Version: version,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if problems := privacyProblems(cfg.DataDir); len(problems) > 0 {
		log.Warn("other users of this machine can read this instance's data", "paths", strings.Join(problems, ", "),
			"fix", "chmod -R go-rwx "+cfg.DataDir)
	}
	// Connections are bounded in total and per client address, so that one
	// client holding thousands of idle connections cannot take every file
	// descriptor; the trusted proxies, whom all clients come through, are
	// bound only in total.
	proxies := clientip.New(cfg.TrustedProxies, cfg.ClientIPHeader)
	conns := connlimit.New(connlimit.Config{Exempt: proxies.Trusts, Logger: log})
	srv := newHTTPServer(ctx, cfg, handler, log)
	srv.ConnState = conns.ConnState
	log.Info("moments listening", "addr", "http://"+ln.Addr().String(), "data", cfg.DataDir, "version", version)
	fmt.Fprintf(env.stdout, "Moments is running at http://%s (API docs at /docs)\n", ln.Addr())

	served := make(chan error, 1)
	withHeaders := rawerror.Listener{Listener: conns.Listener(ln), Header: app.SecurityHeaders()}
	go func() {
		defer logs.FlushOnPanic()
		served <- srv.Serve(onewrite.Listener{Listener: withHeaders})
	}()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down; finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("requests still running at shutdown were cut off", "error", err)
		srv.Close()
	}
	<-served
	log.Info("stopped")
	return nil
}

// logDelay is how late a request's log line may be written.
const logDelay = 100 * time.Millisecond

func newLogHandler(format string, w io.Writer) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, nil)
	}
	return slog.NewTextHandler(w, nil)
}

// Connection timeouts. A request's own limits (the body's read deadline,
// the assistant's timeout) are set by the handler; these bound the rest.
const (
	headerTimeout = 5 * time.Second
	// readTimeout bounds reading a whole request: an upload over a slow
	// link. Handlers clear it once they have the body, so that work after
	// reading is not cut short.
	readTimeout = 2 * time.Minute
	// idleTimeout is how long a keep-alive connection may wait for its next
	// request; idle connections cost a descriptor each.
	idleTimeout = time.Minute
	// minWriteTimeout bounds writing an answer, and is raised to outlast
	// the assistant's timeout.
	minWriteTimeout = 2 * time.Minute
	maxHeaderBytes  = 128 << 10
)

// newHTTPServer is the http.Server that serve runs handler with.
func newHTTPServer(ctx context.Context, cfg app.Config, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      max(minWriteTimeout, cfg.AITimeout+30*time.Second),
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       onewrite.ConnContext,
	}
}

// privacyProblems lists the parts of the data directory that other users of
// the machine may read or enter: the database holds password hashes, the
// secret signs tokens, and the photos are private.
func privacyProblems(dir string) []string {
	var out []string
	for _, name := range []string{".", store.DBFile, app.SecretFile, app.MediaDir, store.SnapshotDir} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("%s (%s)", path, fi.Mode()&(fs.ModeDir|fs.ModePerm)))
		}
	}
	return out
}
