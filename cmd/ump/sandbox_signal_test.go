//go:build unix

package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/greedc/ump-go/internal/testutil/logtest"

	"github.com/stretchr/testify/require"
)

func TestSandboxStopsOnSIGTERM(t *testing.T) {
	var stderr logtest.Buffer
	_, done := startSandbox(t, context.Background(), nil, &stderr)
	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop on SIGTERM")
	}
	require.Contains(t, stderr.String(), "ump sandbox: shutting down")
}
