//go:build unix

package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSandboxStopsOnSIGTERM(t *testing.T) {
	var stderr syncBuffer
	_, done := start(t, context.Background(), &stderr)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop on SIGTERM")
	}
	require.Contains(t, stderr.String(), "umpsandbox: shutting down")
}
