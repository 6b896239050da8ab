package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/greedc/ump-go/internal/testutil/logtest"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
)

// startSandbox runs `ump sandbox` with args on a free port and returns its
// base URL and a channel with the exit code.
func startSandbox(t *testing.T, ctx context.Context, env map[string]string, stderr *logtest.Buffer, args ...string) (string, <-chan int) {
	t.Helper()
	addrs := make(chan string, 1)
	done := make(chan int, 1)
	a := &cli{stdin: strings.NewReader(""), stdout: stderr, stderr: stderr, now: time.Now,
		getenv: func(k string) string { return env[k] }, ready: func(addr string) { addrs <- addr }}
	go func() {
		done <- a.run(ctx, append([]string{"sandbox", "--addr", "127.0.0.1:0"}, args...))
	}()
	select {
	case addr := <-addrs:
		return "http://" + addr, done
	case code := <-done:
		t.Fatalf("sandbox did not start: exit %d: %s", code, stderr.String())
	}
	return "", nil
}

func TestSandboxServesTheGatewayAndStopsCleanly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr logtest.Buffer
	base, done := startSandbox(t, ctx, nil, &stderr, "--app-id", "demo-app", "--app-secret", "demo-secret-123", "--seed", "9")

	c, err := ump.NewClient("demo-app", "demo-secret-123", ump.WithBaseURL(base))
	require.NoError(t, err)
	tok, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("sandbox did not stop")
	}
	log := stderr.String()
	require.Contains(t, log, "ump sandbox: serving")
	require.Contains(t, log, "app_id=demo-app")
	require.Contains(t, log, "method=dss.auth.token.query")
	require.Contains(t, log, "ump sandbox: shutting down")
	require.NotContains(t, log, "demo-secret-123")
	require.NotContains(t, log, tok)
}

// The tool's own walk-through: a sandbox from the environment, a token
// bootstrapped into a file, then calls.
func TestSandboxWithTheCommandsAgainstIt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := map[string]string{envAppID: "demo-app", envAppSecret: "demo-secret-123",
		envStore: "file:" + filepath.Join(t.TempDir(), "tokens.json")}
	var stderr logtest.Buffer
	base, done := startSandbox(t, ctx, env, &stderr)
	env[envBaseURL] = base

	runWith(t, env, time.Now, "", "token", "bootstrap", "--yes").ok(t)
	r := runWith(t, env, time.Now, "", "call", "wk.user.info.add", "--body",
		`{"project_id":"p1","nickname":"小明","phone":"13800000000"}`).ok(t)
	require.Contains(t, r.stdout, `"success": true`)
	r = runWith(t, env, time.Now, "", "member", "get", "--phone", "13800000000", "-o", "table").ok(t)
	require.Contains(t, r.stdout, "nickname                 小明")
	r = runWith(t, env, time.Now, "", "member", "get", "--phone", "13900000000")
	require.Equal(t, exitFailed, r.code)
	require.Equal(t, "error 110003: 会员未绑定 (wk.user.info.query)\n", r.stderr)

	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
	require.NotContains(t, stderr.String(), "demo-secret-123")
}

func TestSandboxRefusesABadFlag(t *testing.T) {
	r := runWith(t, nil, time.Now, "", "sandbox", "--no-such-flag")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "unknown flag: --no-such-flag")
	require.Contains(t, r.stderr, "Run 'ump sandbox --help' for usage.")

	r = runWith(t, nil, time.Now, "", "sandbox", "--addr", "not-an-address")
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "ump sandbox: listen tcp")
}
