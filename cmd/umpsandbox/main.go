// Command umpsandbox serves the emulated member open platform gateway of
// package umptest on a real address, for trying the SDK, the examples or
// another language's client against it:
//
//	go run ./cmd/umpsandbox --addr 127.0.0.1:8080 --app-id demo --app-secret s3cret
//
// It logs one line per call to stderr (never a secret, token, sign or
// phone number) and shuts down cleanly on SIGINT or SIGTERM. State lives in
// memory and ends with the process.
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
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/greedc/ump-go/umptest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "umpsandbox:", err)
		os.Exit(2)
	}
}

// run serves until ctx ends or a SIGINT/SIGTERM arrives; ready, if set, is
// told the address once the gateway listens.
func run(ctx context.Context, args []string, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("umpsandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	appID := fs.String("app-id", umptest.DefaultAppID, "app id the gateway accepts")
	appSecret := fs.String("app-secret", umptest.DefaultAppSecret, "app secret the gateway accepts")
	seed := fs.Uint64("seed", 0, "seed of generated tokens, ids and codes (0: from the time)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	handler := umptest.NewHandler(umptest.WithApp(*appID, *appSecret), umptest.WithLogger(log), umptest.WithSeed(*seed))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("umpsandbox: serving", "url", "http://"+ln.Addr().String(), "app_id", *appID)
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("umpsandbox: shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
