package main

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/greedc/ump-go"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the sandbox with args on a free port and returns its base URL
// and a channel with run's result.
func start(t *testing.T, ctx context.Context, stderr *syncBuffer, args ...string) (string, <-chan error) {
	t.Helper()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), stderr, func(a string) { addrs <- a })
	}()
	select {
	case a := <-addrs:
		return "http://" + a, done
	case err := <-done:
		t.Fatalf("sandbox did not start: %v", err)
	}
	return "", nil
}

func TestSandboxServesTheGatewayAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	base, done := start(t, ctx, &stderr, "--app-id", "demo-app", "--app-secret", "demo-secret-123", "--seed", "9")

	c, err := ump.NewClient("demo-app", "demo-secret-123", ump.WithBaseURL(base))
	require.NoError(t, err)
	tok, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop")
	}
	log := stderr.String()
	require.Contains(t, log, "umpsandbox: serving")
	require.Contains(t, log, "method=dss.auth.token.query")
	require.Contains(t, log, "umpsandbox: shutting down")
	require.NotContains(t, log, "demo-secret-123")
	require.NotContains(t, log, tok)
}

func TestSandboxRefusesABadFlag(t *testing.T) {
	var stderr syncBuffer
	err := run(context.Background(), []string{"--no-such-flag"}, &stderr, nil)
	require.Error(t, err)
	require.Contains(t, stderr.String(), "-app-secret")
}
