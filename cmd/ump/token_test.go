package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/umptest"
)

// tokenApp is the app of the token tests.
const tokenApp = "cli-token-app"

// tokenGateway starts a gateway for tokenApp on a clock standing at now, the
// time the tests give the command. The test fails if it rejected a request:
// the command must sign right and send only tokens the gateway honours.
func tokenGateway(t *testing.T, now time.Time) *umptest.Server {
	t.Helper()
	g := umptest.NewServer(umptest.WithClock(umptest.NewClock(now)), umptest.WithApp(tokenApp, testSecret))
	t.Cleanup(func() {
		g.Close()
		if n := g.Stats().Rejected; n > 0 {
			t.Errorf("the gateway rejected %d requests", n)
		}
	})
	return g
}

// tokenCmd runs `ump token ...` with the secret in the environment, or none.
func tokenCmd(t *testing.T, withSecret bool, now time.Time, args ...string) result {
	t.Helper()
	env := map[string]string{}
	if withSecret {
		env[envAppSecret] = testSecret
	}
	return runWith(t, env, func() time.Time { return now }, "", append([]string{"token"}, args...)...)
}

func TestTokenBootstrapThenShow(t *testing.T) {
	now := time.Now()
	g := tokenGateway(t, now)
	p := filepath.Join(t.TempDir(), "tokens.json")
	app := []string{"--store", "file:" + p, "--app-id", tokenApp}

	r := tokenCmd(t, false, now, append([]string{"show", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "none stored")
	require.Contains(t, r.stdout, "1 of 1 obtains and 20 of 20 refreshes left")

	r = tokenCmd(t, true, now, append([]string{"bootstrap", "--yes", "--base-url", g.URL, "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stderr, "obtained a fresh token")
	require.Contains(t, r.stdout, "version:        1")
	require.Equal(t, 1, g.Stats().TokenObtains)
	s, err := filestore.New(p)
	require.NoError(t, err)
	tok, err := s.Load(context.Background(), tokenApp)
	require.NoError(t, err)
	require.NotContains(t, r.stdout+r.stderr, tok.AccessToken, "bootstrap printed the token")
	require.NotContains(t, r.stdout+r.stderr, tok.RefreshToken, "bootstrap printed the refresh token")

	// The stored token is the one the gateway issued: a call on it needs no
	// token call (and tokenGateway fails the test if it is rejected).
	phone := "13800000000"
	g.AddMember(umptest.Member{Phone: phone})
	runWith(t, map[string]string{envAppSecret: testSecret}, func() time.Time { return now }, "",
		append([]string{"member", "get", "--phone", phone, "--base-url", g.URL}, app...)...).ok(t)
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains)
	require.Zero(t, st.TokenRefreshes)

	r = tokenCmd(t, false, now, append([]string{"show", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "version:        1")
	require.Contains(t, r.stdout, "access token:   usable, expires")
	require.Contains(t, r.stdout, "0 of 1 obtains and 20 of 20 refreshes left")
	require.NotContains(t, r.stdout, tok.AccessToken, "show printed the token without --reveal")
	require.NotContains(t, r.stdout, tok.RefreshToken, "show printed the refresh token without --reveal")

	var v tokenView
	decodeJSON(t, tokenCmd(t, false, now, append([]string{"show"}, app...)...).ok(t).stdout, &v)
	require.True(t, v.AccessUsable)
	require.Equal(t, 0, v.ObtainsLeft)
	require.Empty(t, v.AccessToken)

	r = tokenCmd(t, false, now, append([]string{"show", "--reveal", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "access_token:   "+tok.AccessToken)
	decodeJSON(t, tokenCmd(t, false, now, append([]string{"show", "--reveal"}, app...)...).ok(t).stdout, &v)
	require.Equal(t, tok.AccessToken, v.AccessToken)

	// A second bootstrap refuses and spends nothing.
	r = tokenCmd(t, true, now, append([]string{"bootstrap", "--yes", "--base-url", g.URL}, app...)...)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "refused: a usable access token is stored")
	require.Equal(t, 1, g.Stats().TokenObtains)
}

// seedStore stores tok for the test app in a new file store and returns its
// spec.
func seedStore(t *testing.T, tok ump.Token, obtainsToday int, now time.Time) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens.json")
	s, err := filestore.New(p)
	require.NoError(t, err)
	ctx := context.Background()
	if tok.AccessToken != "" || tok.RefreshToken != "" {
		_, err = s.CompareAndSwap(ctx, tokenApp, 0, tok)
		require.NoError(t, err)
	}
	for range obtainsToday {
		_, ok, err := s.Spend(ctx, tokenApp, ump.TokenSpend{Kind: ump.TokenObtain, Day: ump.BeijingDay(now), Nonce: ump.LeaseID(), At: now, By: "ops-host/4242"}, 1)
		require.NoError(t, err)
		require.True(t, ok)
	}
	return "file:" + p
}

func TestTokenBootstrapRefuses(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name     string
		tok      ump.Token
		obtained int
		want     string
	}{
		{"refresh token usable", ump.Token{AccessToken: "at-old", RefreshToken: "rt-old",
			AccessExpiresAt: now.Add(-time.Hour), RefreshExpiresAt: now.Add(100 * 24 * time.Hour)},
			0, "a usable refresh token is stored"},
		{"obtain spent today", ump.Token{AccessToken: "at-old", RefreshToken: "rt-old",
			AccessExpiresAt: now.Add(-time.Hour), RefreshExpiresAt: now.Add(-time.Hour)},
			1, "today's obtain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := tokenGateway(t, now)
			store := seedStore(t, c.tok, c.obtained, now)
			r := tokenCmd(t, true, now, "bootstrap", "--yes", "--store", store, "--app-id", tokenApp, "--base-url", g.URL)
			require.Equal(t, exitFailed, r.code, r.stdout)
			require.Contains(t, r.stderr, c.want)
			require.NotContains(t, r.stderr, "rt-old")
			st := g.Stats()
			require.Zero(t, st.TokenObtains)
			require.Zero(t, st.TokenRefreshes)
		})
	}
}

func TestTokenBootstrapAfterExpiry(t *testing.T) {
	now := time.Now()
	g := tokenGateway(t, now)
	store := seedStore(t, ump.Token{AccessToken: "at-old", RefreshToken: "rt-old",
		AccessExpiresAt: now.Add(-time.Hour), RefreshExpiresAt: now.Add(-time.Minute)}, 0, now)
	r := tokenCmd(t, true, now, "bootstrap", "--yes", "--store", store, "--app-id", tokenApp, "--base-url", g.URL, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "version:        2", "the expired record was replaced")
	require.Equal(t, 1, g.Stats().TokenObtains)
}

func TestTokenSecretOnlyFromTheEnvironment(t *testing.T) {
	now := time.Now()
	g := tokenGateway(t, now)
	store := "file:" + filepath.Join(t.TempDir(), "tokens.json")
	r := tokenCmd(t, false, now, "bootstrap", "--yes", "--store", store, "--app-id", tokenApp, "--base-url", g.URL)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, envAppSecret)
	r = tokenCmd(t, false, now, "bootstrap", "--yes", "--store", store, "--app-id", tokenApp, "--app-secret", testSecret)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "unknown flag: --app-secret")
	require.NotContains(t, r.stderr, testSecret)
	require.Zero(t, g.Stats().TokenObtains)
}

func TestTokenCorruptedStoreIsReported(t *testing.T) {
	now := time.Now()
	g := tokenGateway(t, now)
	p := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(p, []byte("{not json"), 0o600))
	for _, args := range [][]string{{"show"}, {"bootstrap", "--yes", "--base-url", g.URL}} {
		args = append(args, "--store", "file:"+p, "--app-id", tokenApp)
		r := tokenCmd(t, true, now, args...)
		require.Equal(t, exitFailed, r.code, args[0])
		require.Contains(t, r.stderr, "corrupted", args[0])
		require.Contains(t, r.stderr, "ump token bootstrap", "the store's advice names the command")
	}
	require.Zero(t, g.Stats().TokenObtains)
}

func TestTokenRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	g := tokenGateway(t, now)
	store := "redis://" + srv.Addr + "/2"
	tokenCmd(t, true, now, "bootstrap", "--yes", "--store", store, "--app-id", tokenApp, "--base-url", g.URL).ok(t)
	r := tokenCmd(t, false, now, "show", "--store", store, "--app-id", tokenApp, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "version:        1")
	require.Contains(t, r.stdout, "0 of 1 obtains")

	// The database number and the prefix select the key space.
	r = tokenCmd(t, false, now, "show", "--store", "redis://"+srv.Addr+"/3", "--app-id", tokenApp, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "none stored")
	r = tokenCmd(t, false, now, "show", "--store", store, "--app-id", tokenApp, "--redis-prefix", "other:", "-o", "table").ok(t)
	require.Contains(t, r.stdout, "none stored")
}

func TestTokenUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "Available Commands:"},
		{[]string{"rotate"}, `unknown command "rotate" for "ump token"`},
		{[]string{"show"}, "no app id"},
		{[]string{"show", "--app-id", "a"}, "no token store"},
		{[]string{"show", "--store", "s3://bucket/x", "--app-id", "a"}, `got a "s3" store`},
		{[]string{"show", "--store", "redis://:pw-secret@[::1", "--app-id", "a"}, "not a usable redis:// URL"},
		{[]string{"show", "--store", "file:", "--app-id", "a"}, "no path"},
		{[]string{"show", "extra", "--store", "file:/x"}, `unknown command "extra" for "ump token show"`},
	} {
		r := tokenCmd(t, false, time.Now(), c.args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", c.args, r.stderr)
		require.Contains(t, r.stderr, c.want, "%v", c.args)
		require.False(t, strings.Contains(r.stderr, "pw-secret"), "a password was printed")
	}
}

func TestTokenEnvironmentDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.json")
	env := map[string]string{envStore: "file://" + p, envAppID: tokenApp}
	r := runWith(t, env, time.Now, "", "token", "show", "-o", "table").ok(t)
	require.Contains(t, r.stdout, "app id:         "+tokenApp)
}

// normal replaces the world's store path, which differs per run, with
// $STORE, so that the output can be compared with a golden file.
func (w *world) normal(s string) string {
	host, _ := os.Hostname()
	s = strings.ReplaceAll(s, " by "+host+"/"+strconv.Itoa(os.Getpid()), " by $HOST/$PID")
	s = strings.ReplaceAll(s, w.store.Path(), "$STORE")
	return strings.ReplaceAll(s, strings.TrimPrefix(w.env[envStore], "file:"), "$STORE")
}

// tokenState is everything the token commands may change.
type tokenState struct {
	tok   ump.Token
	day   ump.TokenDay
	pause ump.TokenPause
	calls int
}

func (w *world) tokenState(t *testing.T) tokenState {
	t.Helper()
	ctx := context.Background()
	tok, err := w.store.Load(ctx, w.srv.AppID)
	require.NoError(t, err)
	day, err := w.store.Spent(ctx, w.srv.AppID, ump.BeijingDay(t0))
	require.NoError(t, err)
	pause, err := w.store.Pause(ctx, w.srv.AppID)
	require.NoError(t, err)
	st := w.srv.Stats()
	return tokenState{tok, day, pause, st.Calls["dss.auth.token.query"] + st.Calls["dss.auth.token.refresh"]}
}

// TestTokenRecoveryGolden runs bootstrap, forget and reset-budget without
// --yes (exit 2, nothing changed) and with it.
func TestTokenRecoveryGolden(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// Today's budget holds a refused obtain an older version counted, and
	// the fleet is paused after it.
	_, ok, err := w.store.Spend(ctx, w.srv.AppID, ump.TokenSpend{Kind: ump.TokenObtain, Day: ump.BeijingDay(t0),
		Nonce: "n1", At: t0.Add(-time.Hour), By: "ops-host/4242"}, 1)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, w.store.SetPause(ctx, w.srv.AppID, ump.TokenPause{Until: t0.Add(2 * time.Minute), Failures: 2,
		Reason: "ump: dss.auth.token.query: error 1002: 签名验证失败", At: t0.Add(-time.Minute), By: "ops-host/4242"}))

	r := w.run(t, "token", "show", "-o", "table").ok(t)
	golden(t, "token-show-paused", w.normal(r.stdout))

	before := w.tokenState(t)
	for _, cmd := range []string{"bootstrap", "forget", "reset-budget"} {
		r := w.run(t, "token", cmd)
		require.Equal(t, exitUsage, r.code, cmd)
		require.Empty(t, r.stdout, cmd)
		golden(t, "token-"+cmd+"-no-yes", w.normal(r.stderr))
		require.Equal(t, before, w.tokenState(t), "%s without --yes changed something", cmd)
	}

	r = w.run(t, "token", "reset-budget", "--yes").ok(t)
	golden(t, "token-reset-budget-yes", w.normal(r.stdout))
	after := w.tokenState(t)
	require.Zero(t, after.day.Count(ump.TokenObtain))
	require.Zero(t, after.pause)

	r = w.run(t, "token", "forget", "--yes").ok(t)
	golden(t, "token-forget-yes", w.normal(r.stdout))
	require.Zero(t, w.tokenState(t).tok.Version)

	r = w.run(t, "token", "bootstrap", "--yes", "-o", "table").ok(t)
	golden(t, "token-bootstrap-yes", w.normal(r.stderr+r.stdout))
	require.Equal(t, 1, w.srv.Stats().TokenObtains)
	require.Equal(t, int64(1), w.tokenState(t).tok.Version)
}

func TestTokenShowGolden(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "token", "show", "-o", "table").ok(t)
	golden(t, "token-show", w.normal(r.stdout))
	var v tokenView
	decodeJSON(t, w.run(t, "token", "show").ok(t).stdout, &v)
	require.Equal(t, w.srv.AppID, v.AppID)
	require.True(t, v.Stored && v.AccessUsable && v.RefreshUsable)
	require.Equal(t, "2025-03-14T12:00:00+08:00", v.AccessExpiresAt.Format(time.RFC3339))
	require.Equal(t, "2025-03-14T10:00:00+08:00", v.ObtainedAt.Format(time.RFC3339))
	require.True(t, v.RefreshedAt.IsZero())
	require.Equal(t, "2025-03-14", v.Day)
	require.Equal(t, []int{0, 1, 0, 20}, []int{v.ObtainsSpent, v.ObtainsLeft, v.RefreshesSpent, v.RefreshesLeft})
}

// TestTokenBootstrapTypoThenRight: a bootstrap with a mistyped secret is
// refused and spends nothing; after the operator lifts the fleet's pause,
// the bootstrap with the right secret obtains the day's token.
func TestTokenBootstrapTypoThenRight(t *testing.T) {
	now := time.Now()
	g := umptest.NewServer(umptest.WithClock(umptest.NewClock(now)), umptest.WithApp(tokenApp, testSecret))
	t.Cleanup(g.Close)
	store := "file:" + filepath.Join(t.TempDir(), "tokens.json")
	args := []string{"--store", store, "--app-id", tokenApp, "--base-url", g.URL}
	typo := runWith(t, map[string]string{envAppSecret: testSecret + "x"}, func() time.Time { return now }, "",
		append([]string{"token", "bootstrap", "--yes"}, args...)...)
	require.Equal(t, exitFailed, typo.code)
	require.NotContains(t, typo.stderr, testSecret)
	require.Zero(t, g.Stats().TokenObtains)

	r := tokenCmd(t, false, now, append([]string{"show", "-o", "table"}, args...)...).ok(t)
	require.Contains(t, r.stdout, "1 of 1 obtains and 20 of 20 refreshes left", "the refused obtain is not counted")
	require.Contains(t, r.stdout, "token calls:    paused until")

	r = tokenCmd(t, true, now, append([]string{"bootstrap", "--yes"}, args...)...)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "token calls paused")
	require.Contains(t, r.stderr, `"ump token reset-budget --yes"`)

	r = tokenCmd(t, false, now, append([]string{"reset-budget", "--yes"}, args...)...).ok(t)
	require.Contains(t, r.stdout, "pause:      lifted")
	tokenCmd(t, true, now, append([]string{"bootstrap", "--yes"}, args...)...).ok(t)
	require.Equal(t, 1, g.Stats().TokenObtains, "the gateway issued one token")
}
