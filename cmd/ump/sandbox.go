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
number) and shuts down cleanly on SIGINT or SIGTERM.`,
		Example: `  ump sandbox --addr 127.0.0.1:8080 --app-id demo --app-secret s3cret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return mark(a.serveSandbox(cmd.Context(), addr, appSecret, seed))
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().StringVar(&appSecret, "app-secret", "", "app secret the gateway accepts (default: $UMP_APP_SECRET, or "+umptest.DefaultAppSecret+")")
	cmd.Flags().Uint64Var(&seed, "seed", 0, "seed of generated tokens, ids and codes (0: from the time)")
	return cmd
}

// serveSandbox serves until ctx ends or a SIGINT/SIGTERM arrives.
func (a *cli) serveSandbox(ctx context.Context, addr, appSecret string, seed uint64) error {
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
	handler := umptest.NewHandler(umptest.WithApp(appID, appSecret), umptest.WithLogger(log), umptest.WithSeed(seed))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

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
