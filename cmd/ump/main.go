package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A cancelled call still reports what it knows (a score change's
	// change_id above all) instead of dying mid-call.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
