package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/umptest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The test app's secret is long and unusual, so that a leak is easy to find.
const testSecret = "S3cr3t-CLI-App-Secret-0123456789"

// t0 is where every world's clock stands: a Friday morning in Beijing.
var t0 = time.Date(2025, 3, 14, 10, 0, 0, 0, wire.Beijing)

// world is an emulated gateway on a fixed clock, a token store holding a
// token it issued (without spending the day's obtain), and the environment
// that points the command at both.
type world struct {
	srv   *umptest.Server
	clock *umptest.Clock
	store *filestore.Store
	env   map[string]string
	// sdk calls the gateway to set up state, on the same token.
	sdk *ump.Client
}

func newWorld(t *testing.T, opts ...umptest.Option) *world {
	t.Helper()
	clk := umptest.NewClock(t0)
	base := []umptest.Option{umptest.WithClock(clk), umptest.WithSeed(42), umptest.WithApp("cli-test-app", testSecret)}
	srv := umptest.NewServer(append(base, opts...)...)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "tokens.json")
	store, err := filestore.New(path)
	require.NoError(t, err)
	_, err = store.CompareAndSwap(context.Background(), srv.AppID, 0, srv.IssueToken())
	require.NoError(t, err)
	return &world{
		srv: srv, clock: clk, store: store,
		env: map[string]string{envBaseURL: srv.URL, envAppID: srv.AppID, envAppSecret: srv.AppSecret, envStore: "file:" + path},
		sdk: srv.Client(ump.WithTokenStore(store)),
	}
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the command in process against the world and checks that it
// printed neither the secret nor a stored token (unless --reveal asked).
func (w *world) run(t *testing.T, args ...string) result {
	t.Helper()
	r := runWith(t, w.env, w.clock.Now, "", args...)
	all := r.stdout + r.stderr
	require.NotContains(t, all, testSecret, "the secret was printed")
	tok, err := w.store.Load(context.Background(), w.srv.AppID)
	require.NoError(t, err)
	revealed := false
	for _, a := range args {
		revealed = revealed || a == "--reveal"
	}
	if !revealed && tok.AccessToken != "" {
		require.NotContains(t, all, tok.AccessToken, "the access token was printed")
		require.NotContains(t, all, tok.RefreshToken, "the refresh token was printed")
	}
	return r
}

// runWith runs the command's entry point in process with env as the
// environment, now as the clock and stdin as the standard input.
func runWith(t *testing.T, env map[string]string, now func() time.Time, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut,
		getenv: func(k string) string { return env[k] }, now: now}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := a.run(ctx, args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// ok asserts the command succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	require.Equal(t, exitOK, r.code, "stderr: %s", r.stderr)
	return r
}

// golden compares got with testdata/name.golden, or rewrites it under
// -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./cmd/ump -update")
	require.Equal(t, string(want), got, "output differs from %s (go test ./cmd/ump -update rewrites it)", path)
}

// decodeJSON decodes the command's JSON output into v, refusing unknown
// fields so that a renamed field fails the test.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(v), "output: %s", out)
}

// calls is how many requests of a gateway method reached the gateway.
func (w *world) calls(method string) int { return w.srv.Stats().Calls[method] }

// total is how many requests reached the gateway.
func (w *world) total() int {
	n := 0
	for _, c := range w.srv.Stats().Calls {
		n += c
	}
	return n
}

func TestEntryPointUsesTheProcessStreams(t *testing.T) {
	var out, errOut bytes.Buffer
	env := map[string]string{envAppSecret: "XYZ"}
	code := run(context.Background(), []string{"sign", "--query", "foo=1&bar=2&foo_bar=3&foobar=4", "--body", "-"},
		strings.NewReader(`{"orderNo":123}`), &out, &errOut, func(k string) string { return env[k] })
	require.Equal(t, exitOK, code, errOut.String())
	// The document's own example (section 1) gives this digest.
	require.Contains(t, out.String(), "sign:      546e4aa36d2d624da5ff816ca030951c")
}

func TestUsageErrorsExit2AndSendNothing(t *testing.T) {
	w := newWorld(t)
	noStore := map[string]string{envBaseURL: w.env[envBaseURL], envAppID: w.env[envAppID], envAppSecret: testSecret}
	noAppID := map[string]string{envBaseURL: w.env[envBaseURL], envAppSecret: testSecret, envStore: w.env[envStore]}
	noSecret := map[string]string{envBaseURL: w.env[envBaseURL], envAppID: w.env[envAppID], envStore: w.env[envStore]}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{w.env, nil, "Available Commands:"},
		{w.env, []string{"frob"}, `unknown command "frob" for "ump"`},
		{w.env, []string{"member"}, "Available Commands:"},
		{w.env, []string{"member", "frob"}, `unknown command "frob" for "ump member"`},
		{w.env, []string{"member", "get", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{w.env, []string{"member", "get"}, "[phone open-id]"},
		{w.env, []string{"member", "get", "--phone", "13800000000", "--open-id", "x"}, "none of the others can be"},
		{w.env, []string{"member", "parse"}, "accepts 1 arg(s), received 0"},
		{w.env, []string{"member", "get", "--phone", "13800000000", "-o", "yaml"}, `--output "yaml": want json or table`},
		{w.env, []string{"member", "get", "--phone", "13800000000", "--app-secret", testSecret}, "unknown flag: --app-secret"},
		{noStore, []string{"member", "get", "--phone", "13800000000"}, "no token store: set --store or UMP_TOKEN_STORE"},
		{noSecret, []string{"member", "get", "--phone", "13800000000"}, "no app secret: set it in the environment variable UMP_APP_SECRET"},
		{w.env, []string{"member", "get", "--phone", "13800000000", "--secret-env", "OTHER_SECRET"}, "environment variable OTHER_SECRET"},
		{noAppID, []string{"member", "get", "--phone", "13800000000"}, "no app id: set --app-id or UMP_APP_ID"},
		{w.env, []string{"member", "get", "--phone", "13800000000", "--base-url", "ftp://x"}, "is not an http(s) URL"},
		{w.env, []string{"member", "get", "--phone", "12345"}, "--phone (phone): must be an 11-digit mainland mobile number"},
		{w.env, []string{"call"}, "accepts 1 arg(s), received 0"},
		{w.env, []string{"call", "wk/../x"}, "METHOD (method): must be a gateway method name"},
		{w.env, []string{"call", "wk.user.info.query", "--body", "{"}, "--body (body): must be valid JSON"},
		{w.env, []string{"call", "dss.auth.token.query"}, "token calls spend the daily budget"},
		{w.env, []string{"call", "wk.user.level.list", "-o", "table"}, "call prints JSON only"},
		{w.env, []string{"score", "records", "--open-id", "x", "--type", "bonus"}, "--type (score_type): must be all, income or expense"},
		{w.env, []string{"coupon", "list", "--open-id", "x", "--status", "gone"}, "--status (status): must be all, valid, used or expired"},
	} {
		r := runWith(t, c.env, w.clock.Now, "", c.args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", c.args, r.stderr)
		require.Contains(t, r.stderr, c.want, "%v", c.args)
		require.Empty(t, r.stdout, "%v", c.args)
		require.NotContains(t, r.stderr, testSecret)
	}
	require.Zero(t, w.total(), "a usage error sent a request")
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"score", "change", "--help"}, {"sandbox", "-h"}} {
		r := runWith(t, nil, time.Now, "", args...).ok(t)
		require.Contains(t, r.stdout, "Usage:", "%v", args)
	}
}

func TestFlagsWinOverTheEnvironment(t *testing.T) {
	w := newWorld(t)
	env := map[string]string{envBaseURL: "http://127.0.0.1:1", envAppID: "someone-else", envAppSecret: "wrong",
		"CLI_SECRET": testSecret, envStore: "s3://nowhere"}
	r := runWith(t, env, w.clock.Now, "", "member", "levels", "--base-url", w.srv.URL, "--app-id", w.srv.AppID,
		"--secret-env", "CLI_SECRET", "--store", w.env[envStore])
	r.ok(t)
	require.Contains(t, r.stdout, "一级会员")
}

func TestTransportFailureExits1(t *testing.T) {
	w := newWorld(t)
	w.env[envBaseURL] = "http://127.0.0.1:1" // nothing listens on port 1
	r := w.run(t, "member", "levels")
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "ump member levels: wk.user.level.list: transport:")
	require.NotContains(t, r.stderr, "access_token=", "the URL was printed")
}

func TestNoTokenExits1WithAHint(t *testing.T) {
	w := newWorld(t)
	w.env[envStore] = "file:" + filepath.Join(t.TempDir(), "empty.json")
	r := w.run(t, "member", "levels")
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "ump member levels: wk.user.level.list: not sent, no access token: ump: no usable access token")
	require.Contains(t, r.stderr, `run "ump token bootstrap --yes"`)
	require.Zero(t, w.total(), "a call obtained a token by itself")
}

func TestRejectedTokenAndFailedRenewalAreBothReported(t *testing.T) {
	w := newWorld(t)
	w.srv.ExpireAccessTokens()
	w.srv.ExpireRefreshTokens()
	r := w.run(t, "member", "levels")
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "error 401: ")
	require.Contains(t, r.stderr, "(wk.user.level.list, HTTP 401)\n")
	require.Contains(t, r.stderr, "(dss.auth.token.refresh)\n")
	require.Zero(t, w.srv.Stats().TokenObtains, "a call obtained a token by itself")
}

func TestCallsShareAndRefreshTheStoredToken(t *testing.T) {
	w := newWorld(t)
	before, err := w.store.Load(context.Background(), w.srv.AppID)
	require.NoError(t, err)
	w.srv.ExpireAccessTokens() // the gateway rejects the stored token: 401
	w.run(t, "member", "levels").ok(t)
	after, err := w.store.Load(context.Background(), w.srv.AppID)
	require.NoError(t, err)
	require.Greater(t, after.Version, before.Version, "the refreshed token was stored for the fleet")
	require.NotEqual(t, before.AccessToken, after.AccessToken)
	require.Equal(t, 1, w.srv.Stats().TokenRefreshes)
	require.Zero(t, w.srv.Stats().TokenObtains)

	var v tokenView
	decodeJSON(t, w.run(t, "token", "show").ok(t).stdout, &v)
	require.Equal(t, 1, v.RefreshesSpent)
	require.Equal(t, 19, v.RefreshesLeft)
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return n
}
