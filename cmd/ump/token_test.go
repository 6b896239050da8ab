package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/redistest"
	"github.com/greedc/ump-go/internal/tokengw"
	"github.com/greedc/ump-go/tokenstore/filestore"
)

// These tests run against tokengw, which counts token calls, on real time.

// tokenCmd runs `ump token ...` with the secret in the environment, or none.
func tokenCmd(t *testing.T, withSecret bool, now time.Time, args ...string) result {
	t.Helper()
	env := map[string]string{}
	if withSecret {
		env[envAppSecret] = tokengw.AppSecret
	}
	return runWith(t, env, func() time.Time { return now }, "", append([]string{"token"}, args...)...)
}

func TestTokenBootstrapThenShow(t *testing.T) {
	g := tokengw.New(t)
	store := "file:" + filepath.Join(t.TempDir(), "tokens.json")
	now := time.Now()
	app := []string{"--store", store, "--app-id", tokengw.AppID}

	r := tokenCmd(t, false, now, append([]string{"show", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "none stored")
	require.Contains(t, r.stdout, "1 of 1 obtains and 20 of 20 refreshes left")

	r = tokenCmd(t, true, now, append([]string{"bootstrap", "--base-url", g.URL, "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stderr, "obtained a fresh token")
	require.Contains(t, r.stdout, "version:        1")
	tok := g.Current()
	require.NotContains(t, r.stdout+r.stderr, tok, "bootstrap printed the token")
	obtains, _, _ := g.Counts()
	require.Equal(t, 1, obtains)

	r = tokenCmd(t, false, now, append([]string{"show", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "version:        1")
	require.Contains(t, r.stdout, "access token:   usable, expires")
	require.Contains(t, r.stdout, "0 of 1 obtains and 20 of 20 refreshes left")
	require.NotContains(t, r.stdout, tok, "show printed the token without --reveal")
	require.NotContains(t, r.stdout, "rt-", "show printed the refresh token without --reveal")

	var v tokenView
	decodeJSON(t, tokenCmd(t, false, now, append([]string{"show"}, app...)...).ok(t).stdout, &v)
	require.True(t, v.AccessUsable)
	require.Equal(t, 0, v.ObtainsLeft)
	require.Empty(t, v.AccessToken)

	r = tokenCmd(t, false, now, append([]string{"show", "--reveal", "-o", "table"}, app...)...).ok(t)
	require.Contains(t, r.stdout, "access_token:   "+tok)
	decodeJSON(t, tokenCmd(t, false, now, append([]string{"show", "--reveal"}, app...)...).ok(t).stdout, &v)
	require.Equal(t, tok, v.AccessToken)

	// A second bootstrap refuses and spends nothing.
	r = tokenCmd(t, true, now, append([]string{"bootstrap", "--base-url", g.URL}, app...)...)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "refused: a usable access token is stored")
	obtains, _, _ = g.Counts()
	require.Equal(t, 1, obtains)
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
		_, err = s.CompareAndSwap(ctx, tokengw.AppID, 0, tok)
		require.NoError(t, err)
	}
	for range obtainsToday {
		_, err = s.Spend(ctx, tokengw.AppID, ump.TokenObtain, ump.BeijingDay(now), 1)
		require.NoError(t, err)
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
			g := tokengw.New(t)
			store := seedStore(t, c.tok, c.obtained, now)
			r := tokenCmd(t, true, now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
			require.Equal(t, exitFailed, r.code, r.stdout)
			require.Contains(t, r.stderr, c.want)
			require.NotContains(t, r.stderr, "rt-old")
			obtains, refreshes, _ := g.Counts()
			require.Zero(t, obtains)
			require.Zero(t, refreshes)
		})
	}
}

func TestTokenBootstrapAfterExpiry(t *testing.T) {
	now := time.Now()
	g := tokengw.New(t)
	store := seedStore(t, ump.Token{AccessToken: "at-old", RefreshToken: "rt-old",
		AccessExpiresAt: now.Add(-time.Hour), RefreshExpiresAt: now.Add(-time.Minute)}, 0, now)
	r := tokenCmd(t, true, now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "version:        2", "the expired record was replaced")
	obtains, _, _ := g.Counts()
	require.Equal(t, 1, obtains)
}

func TestTokenSecretOnlyFromTheEnvironment(t *testing.T) {
	g := tokengw.New(t)
	store := "file:" + filepath.Join(t.TempDir(), "tokens.json")
	r := tokenCmd(t, false, time.Now(), "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, envAppSecret)
	r = tokenCmd(t, false, time.Now(), "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--app-secret", tokengw.AppSecret)
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "unknown flag: --app-secret")
	require.NotContains(t, r.stderr, tokengw.AppSecret)
	obtains, _, _ := g.Counts()
	require.Zero(t, obtains)
}

func TestTokenCorruptedStoreIsReported(t *testing.T) {
	g := tokengw.New(t)
	p := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(p, []byte("{not json"), 0o600))
	for _, args := range [][]string{{"show"}, {"bootstrap", "--base-url", g.URL}} {
		args = append(args, "--store", "file:"+p, "--app-id", tokengw.AppID)
		r := tokenCmd(t, true, time.Now(), args...)
		require.Equal(t, exitFailed, r.code, args[0])
		require.Contains(t, r.stderr, "corrupted", args[0])
		require.Contains(t, r.stderr, "ump token bootstrap", "the store's advice names the command")
	}
	obtains, _, _ := g.Counts()
	require.Zero(t, obtains)
}

func TestTokenRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	g := tokengw.New(t)
	store := "redis://" + srv.Addr + "/2"
	now := time.Now()
	tokenCmd(t, true, now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL).ok(t)
	r := tokenCmd(t, false, now, "show", "--store", store, "--app-id", tokengw.AppID, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "version:        1")
	require.Contains(t, r.stdout, "0 of 1 obtains")

	// The database number and the prefix select the key space.
	r = tokenCmd(t, false, now, "show", "--store", "redis://"+srv.Addr+"/3", "--app-id", tokengw.AppID, "-o", "table").ok(t)
	require.Contains(t, r.stdout, "none stored")
	r = tokenCmd(t, false, now, "show", "--store", store, "--app-id", tokengw.AppID, "--redis-prefix", "other:", "-o", "table").ok(t)
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
	env := map[string]string{envStore: "file://" + p, envAppID: tokengw.AppID}
	r := runWith(t, env, time.Now, "", "token", "show", "-o", "table").ok(t)
	require.Contains(t, r.stdout, "app id:         "+tokengw.AppID)
}

func TestTokenShowGolden(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "token", "show", "-o", "table").ok(t)
	golden(t, "token-show", r.stdout)
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
