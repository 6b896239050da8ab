package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/greedc/ump-go/umptest"
)

func (a *cli) sandboxCommand() *cobra.Command {
	var (
		addr, appSecret string
		seed            uint64
		limits          sandboxLimits
	)
	cmd := &cobra.Command{
		Use:   "sandbox [--addr HOST:PORT] [--app-id ID] [--app-secret SECRET] [--seed N]",
		Short: "Serve an emulated gateway (package umptest) on an address",
		Long: `sandbox serves the emulated member open platform gateway of package umptest
on a real address, for trying the SDK, this command, the examples or another
language's client against it. All nineteen calls work, with state in memory
that ends with the process; it holds the document's seven levels and no
members (create them with "ump call wk.user.info.add").

The app it accepts is --app-id (or UMP_APP_ID, default ` + umptest.DefaultAppID + `) and
--app-secret (or the variable --secret-env names, default
` + umptest.DefaultAppSecret + `): a made-up secret for a local toy,
which is why, here only, it may be a flag.

It logs one line per call to stderr (never a secret, token, sign or phone
number) and shuts down cleanly on SIGINT or SIGTERM.

It is built to survive careless and hostile clients: a request body over
--max-body is refused (413) unread; a request must arrive whole within
--read-timeout and its answer leave within --write-timeout; idle connections
close after --idle-timeout; the request history behind the log keeps at most
10000 requests and 16 MiB, and the bodies only of requests that passed
authentication.`,
		Example: `  ump sandbox --addr 127.0.0.1:8080 --app-id demo --app-secret s3cret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return mark(a.serveSandbox(cmd.Context(), addr, appSecret, seed, limits))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&appSecret, "app-secret", "", "app secret the gateway accepts (default: $UMP_APP_SECRET, or "+umptest.DefaultAppSecret+")")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of generated tokens, ids and codes (0: from the time)")
	cmd.Flags().Int64Var(&limits.maxBody, "max-body", umptest.MaxBodyBytes, "largest request body read, in bytes")
	cmd.Flags().DurationVar(&limits.read, "read-timeout", 30*time.Second, "time a request, body included, may take to arrive")
	cmd.Flags().DurationVar(&limits.write, "write-timeout", 60*time.Second, "time from the end of a request's headers to the end of its answer")
	cmd.Flags().DurationVar(&limits.idle, "idle-timeout", 2*time.Minute, "time an idle keep-alive connection stays open")
	return cmd
}

// sandboxLimits bound what one client can make the sandbox hold.
type sandboxLimits struct {
	maxBody           int64
	read, write, idle time.Duration
}

// server returns the sandbox's HTTP server for handler: every timeout set, so
// a slow or silent client is cut off instead of holding a connection.
func (l sandboxLimits) server(handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: min(l.read, 10*time.Second),
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveSandbox serves until ctx ends or a SIGINT/SIGTERM arrives.
func (a *cli) serveSandbox(ctx context.Context, addr, appSecret string, seed uint64, limits sandboxLimits) error {
	if limits.maxBody <= 0 || limits.read <= 0 || limits.write <= 0 || limits.idle <= 0 {
		return usagef("--max-body, --read-timeout, --write-timeout and --idle-timeout must be above zero")
	}
	appID := a.setting(a.appID, envAppID)
	if appID == "" {
		appID = umptest.DefaultAppID
	}
	if appSecret == "" {
		appSecret = a.getenv(a.secretEnv)
	}
	if appSecret == "" {
		appSecret = umptest.DefaultAppSecret
	}
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	log := slog.New(slog.NewTextHandler(a.stderr, nil))
	handler := umptest.NewHandler(umptest.WithApp(appID, appSecret), umptest.WithLogger(log), umptest.WithSeed(seed),
		umptest.WithMaxBodyBytes(limits.maxBody))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := limits.server(handler, log)

	// The sandbox stops on a signal by itself, whoever runs it.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("ump sandbox: serving", "url", "http://"+ln.Addr().String(), "app_id", appID)
	if a.ready != nil {
		a.ready(ln.Addr().String())
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("ump sandbox: shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
