// Command todo is a to-do list REST service on net/http and SQLite.
// See README.md for its API and configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds of the HTTP server and of a graceful stop.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second // enough for a 1 MiB body on a slow link
	writeTimeout      = 30 * time.Second // a page or an export extends its own, piece by piece
	idleTimeout       = 30 * time.Second // a kept-alive connection with nothing to do gives its place up
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if isCommand(os.Args[1:]) {
		err = runCommand(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "todo:", err)
		os.Exit(1)
	}
}

// config is the service's configuration, from flags and the environment.
type config struct {
	addr        string
	db          string
	token       string
	open        bool     // the open mode may serve beyond loopback, for any Host
	signup      bool     // anyone may make an account
	corsOrigins []string // "*" for any
	baseURL     string   // without a trailing slash
	logFormat   string
	logLevel    slog.Level
	retention   time.Duration // how long the change log keeps deletions
	metricsAddr string        // a listener of /metrics alone, without credentials
}

// run is the whole program: it serves until ctx is done, then stops
// gracefully. It prints the bound address on one line to stdout, and logs to
// stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if getenv("GOMEMLIMIT") == "" { // the operator's, if set, the runtime has already applied
		debug.SetMemoryLimit(memoryLimit)
	}
	logs := newLogBuffer(stderr)
	defer logs.Close()
	logger := newLogger(cfg, logs)

	store, err := OpenStore(cfg.db)
	if err != nil {
		return err
	}
	tcp, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return errors.Join(err, store.Close())
	}
	ln := newLimitListener(tcp, connLimit())
	if err := checkMode(cfg, store.HasAccounts(), ln.Addr().(*net.TCPAddr).IP.IsLoopback()); err != nil {
		return errors.Join(err, ln.Close(), store.Close())
	}
	go pruneChanges(ctx, store, cfg.retention, logger)
	service := newServer(logger, store, cfg)
	srv := newHTTPServer(service, logger)
	srv.RegisterOnShutdown(service.events.closeAll) // a stream would hold the stop to its bound
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	logger.Info("started", "addr", ln.Addr().String(), "db", cfg.db, "max_connections", ln.limit)

	stopMetrics, err := serveMetrics(cfg.metricsAddr, service, logger, stdout)
	if err != nil {
		return errors.Join(err, ln.Close(), store.Close())
	}
	defer stopMetrics() // what is left to scrape goes with the process
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served: // Serve failed before any signal
		return errors.Join(err, store.Close())
	case <-ctx.Done():
	}

	logger.Info("stopping: finishing the requests in flight", "bound", shutdownTimeout.String())
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		logger.Warn("requests still in flight at the bound were cut off", "err", err)
		srv.Close()
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// serveMetrics serves GET /metrics alone, without credentials, on addr (if
// any): for a scraper on a private network. stop closes it.
func serveMetrics(addr string, service *server, logger *slog.Logger, stdout io.Writer) (stop func() error, err error) {
	if addr == "" {
		return func() error { return nil }, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { service.writeMetrics(w) })
	srv := newHTTPServer(mux, logger)
	fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ln.Addr())
	go srv.Serve(ln) // ends with Close
	return srv.Close, nil
}

// checkMode refuses to start in a mode that the configuration contradicts
// (API.md, "Who is calling"): -token with accounts, or the open mode beyond
// loopback without -open.
func checkMode(cfg config, accounts, loopback bool) error {
	switch {
	case cfg.token != "" && accounts:
		return errors.New("the database has accounts, so -token (TODO_TOKEN) has no place: sign in with an account's token instead")
	case cfg.token == "" && !accounts && !cfg.open && !loopback:
		return errors.New("with no accounts and no -token, the service is open to anyone who reaches it, so it serves only loopback: " +
			"make an account (todo user add), give -token, or -open to expose it anyway")
	}
	return nil
}

// pruneChanges forgets, at once and then every minute until ctx is done,
// the deletions that the change log has kept for longer than retention.
func pruneChanges(ctx context.Context, store *Store, retention time.Duration, logger *slog.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if err := store.Prune(ctx, time.Now().Add(-retention)); err != nil && ctx.Err() == nil {
			logger.Warn("prune the change log", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// newHTTPServer returns the HTTP server for h, with its bounds.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	var err error
	var origins, baseURL, level, retention string
	env := func(name, fallback string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return fallback
	}
	fs := flag.NewFlagSet("todo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", env("TODO_ADDR", "localhost:8080"), "listen address; port 0 picks a free one (TODO_ADDR)")
	fs.StringVar(&cfg.db, "db", env("TODO_DB", "todo.db"), "SQLite file, or :memory: (TODO_DB)")
	fs.StringVar(&cfg.token, "token", env("TODO_TOKEN", ""), "bearer token that every /v1 route requires (TODO_TOKEN)")
	for _, b := range []struct {
		v          *bool
		name, help string
	}{
		{&cfg.open, "open", "without accounts or a token, serve beyond loopback and for any Host (TODO_OPEN)"},
		{&cfg.signup, "signup", "anyone may make an account with POST /v1/users (TODO_SIGNUP)"},
	} {
		variable := "TODO_" + strings.ToUpper(b.name)
		on, perr := strconv.ParseBool(env(variable, "false"))
		if perr != nil {
			return cfg, fmt.Errorf("%s=%q is not true or false", variable, getenv(variable))
		}
		fs.BoolVar(b.v, b.name, on, b.help)
	}
	fs.StringVar(&origins, "cors-origins", env("TODO_CORS_ORIGINS", ""), "comma-separated origins allowed by CORS, or * (TODO_CORS_ORIGINS)")
	fs.StringVar(&baseURL, "base-url", env("TODO_BASE_URL", ""), "public base URL for url, Location and Link (TODO_BASE_URL)")
	fs.StringVar(&cfg.logFormat, "log-format", env("TODO_LOG_FORMAT", "text"), "text or json (TODO_LOG_FORMAT)")
	fs.StringVar(&level, "log-level", env("TODO_LOG_LEVEL", "info"), "debug, info, warn or error (TODO_LOG_LEVEL)")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", env("TODO_METRICS_ADDR", ""), "a second listen address that serves only /metrics, without credentials (TODO_METRICS_ADDR)")
	fs.StringVar(&retention, "change-retention", env("TODO_CHANGE_RETENTION", "720h"), "how long the change log keeps deletions, a Go duration (TODO_CHANGE_RETENTION)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return cfg, fmt.Errorf("-log-format must be text or json, not %q", cfg.logFormat)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(level)); err != nil {
		return cfg, fmt.Errorf("-log-level must be debug, info, warn or error, not %q", level)
	}
	if cfg.retention, err = time.ParseDuration(retention); err != nil || cfg.retention <= 0 {
		return cfg, fmt.Errorf("-change-retention must be a positive Go duration, like 720h, not %q", retention)
	}
	if cfg.corsOrigins, err = parseOrigins(origins); err != nil {
		return cfg, err
	}
	cfg.baseURL, err = parseBaseURL(baseURL)
	return cfg, err
}

// parseOrigins reads the comma-separated origins of -cors-origins.
func parseOrigins(origins string) ([]string, error) {
	var list []string
	for o := range strings.SplitSeq(origins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "") {
			return nil, fmt.Errorf("-cors-origins: %q is not an origin like https://example.com, nor *", o)
		}
		list = append(list, o)
	}
	return list, nil
}

// parseBaseURL reads -base-url: "" or an absolute http or https URL,
// returned without a trailing slash.
func parseBaseURL(baseURL string) (string, error) {
	if baseURL == "" {
		return "", nil
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("-base-url: %q is not an absolute http or https URL", baseURL)
	}
	return strings.TrimRight(baseURL, "/"), nil
}
