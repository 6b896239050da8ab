package main

import (
	"bytes"
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

// runCmd runs the command in process and returns its exit code and output.
func runCmd(t *testing.T, vars map[string]string, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := env{getenv: func(k string) string { return vars[k] }, stdout: &out, stderr: &errOut, now: func() time.Time { return now }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, e)
	return code, out.String(), errOut.String()
}

func secretEnvs() map[string]string { return map[string]string{secretEnv: tokengw.AppSecret} }

func TestBootstrapThenStatus(t *testing.T) {
	g := tokengw.New(t)
	p := filepath.Join(t.TempDir(), "tokens.json")
	store := "file:" + p
	now := time.Now()

	code, out, errOut := runCmd(t, nil, now, "status", "--store", store, "--app-id", tokengw.AppID)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "none stored")
	require.Contains(t, out, "0 of 1 obtains, 0 of 20 refreshes")

	code, out, errOut = runCmd(t, secretEnvs(), now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "obtained a fresh token")
	require.Contains(t, out, "version:        1")
	tok := g.Current()
	require.NotContains(t, out, tok, "bootstrap printed the token")
	obtains, _, _ := g.Counts()
	require.Equal(t, 1, obtains)

	code, out, errOut = runCmd(t, nil, now, "status", "--store", store, "--app-id", tokengw.AppID)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "version:        1")
	require.Contains(t, out, "access token:   usable, expires")
	require.Contains(t, out, "1 of 1 obtains")
	require.NotContains(t, out, tok, "status printed the token without --reveal")
	require.NotContains(t, out, "rt-", "status printed the refresh token without --reveal")

	code, out, _ = runCmd(t, nil, now, "status", "--store", store, "--app-id", tokengw.AppID, "--reveal")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "access_token:   "+tok)

	// A second bootstrap refuses and spends nothing.
	code, _, errOut = runCmd(t, secretEnvs(), now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut, "refused: a usable access token is stored")
	obtains, _, _ = g.Counts()
	require.Equal(t, 1, obtains)
}

// seed stores tok for the test app in a new file store and returns its spec.
func seed(t *testing.T, tok ump.Token, obtainsToday int, now time.Time) string {
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

func TestBootstrapRefuses(t *testing.T) {
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
			store := seed(t, c.tok, c.obtained, now)
			code, out, errOut := runCmd(t, secretEnvs(), now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
			require.Equal(t, exitFailed, code, out)
			require.Contains(t, errOut, c.want)
			require.NotContains(t, errOut, "rt-old")
			obtains, refreshes, _ := g.Counts()
			require.Zero(t, obtains)
			require.Zero(t, refreshes)
		})
	}
}

func TestBootstrapAfterExpiry(t *testing.T) {
	now := time.Now()
	g := tokengw.New(t)
	store := seed(t, ump.Token{AccessToken: "at-old", RefreshToken: "rt-old",
		AccessExpiresAt: now.Add(-time.Hour), RefreshExpiresAt: now.Add(-time.Minute)}, 0, now)
	code, out, errOut := runCmd(t, secretEnvs(), now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "version:        2", "the expired record was replaced")
	obtains, _, _ := g.Counts()
	require.Equal(t, 1, obtains)
}

func TestSecretOnlyFromEnvironment(t *testing.T) {
	g := tokengw.New(t)
	store := "file:" + filepath.Join(t.TempDir(), "tokens.json")
	code, _, errOut := runCmd(t, nil, time.Now(), "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitFailed, code)
	require.Contains(t, errOut, secretEnv)
	code, _, errOut = runCmd(t, nil, time.Now(), "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--app-secret", tokengw.AppSecret)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "flag provided but not defined")
	obtains, _, _ := g.Counts()
	require.Zero(t, obtains)
}

func TestCorruptedStoreIsReported(t *testing.T) {
	g := tokengw.New(t)
	p := filepath.Join(t.TempDir(), "tokens.json")
	require.NoError(t, os.WriteFile(p, []byte("{not json"), 0o600))
	for _, args := range [][]string{{"status"}, {"bootstrap", "--base-url", g.URL}} {
		args = append(args, "--store", "file:"+p, "--app-id", tokengw.AppID)
		code, _, errOut := runCmd(t, secretEnvs(), time.Now(), args...)
		require.NotEqual(t, exitOK, code)
		require.Contains(t, errOut, "corrupted", args[0])
	}
	obtains, _, _ := g.Counts()
	require.Zero(t, obtains)
}

func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	g := tokengw.New(t)
	store := "redis://" + srv.Addr + "/2"
	now := time.Now()
	code, _, errOut := runCmd(t, secretEnvs(), now, "bootstrap", "--store", store, "--app-id", tokengw.AppID, "--base-url", g.URL)
	require.Equal(t, exitOK, code, errOut)
	code, out, errOut := runCmd(t, nil, now, "status", "--store", store, "--app-id", tokengw.AppID)
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "version:        1")
	require.Contains(t, out, "1 of 1 obtains")

	// The database number and the prefix select the key space.
	code, out, _ = runCmd(t, nil, now, "status", "--store", "redis://"+srv.Addr+"/3", "--app-id", tokengw.AppID)
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "none stored")
	code, out, _ = runCmd(t, nil, now, "status", "--store", store, "--app-id", tokengw.AppID, "--redis-prefix", "other:")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "none stored")
}

func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: umptoken"},
		{[]string{"help"}, exitOK, "usage: umptoken"},
		{[]string{"rotate"}, exitUsage, `unknown command "rotate"`},
		{[]string{"status"}, exitUsage, "--store and --app-id are required"},
		{[]string{"status", "--store", "s3://bucket/x", "--app-id", "a"}, exitUsage, `got a "s3" store`},
		{[]string{"status", "--store", "redis://:pw-secret@[::1", "--app-id", "a"}, exitUsage, "not a usable redis:// URL"},
		{[]string{"status", "--store", "file:", "--app-id", "a"}, exitUsage, "no path"},
		{[]string{"status", "extra", "--store", "file:/x"}, exitUsage, `unexpected argument "extra"`},
	} {
		code, _, errOut := runCmd(t, nil, time.Now(), c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errOut)
		require.Contains(t, errOut, c.want, "%v", c.args)
		require.False(t, strings.Contains(errOut, "pw-secret"), "a password was printed")
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.json")
	vars := map[string]string{"UMP_TOKEN_STORE": "file://" + p, "UMP_APP_ID": tokengw.AppID}
	code, out, errOut := runCmd(t, vars, time.Now(), "status")
	require.Equal(t, exitOK, code, errOut)
	require.Contains(t, out, "app id:         "+tokengw.AppID)
}
