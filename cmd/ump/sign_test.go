package main

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
)

const signQuery = "timestamp=1741917600000&access_token=at0123456789abcdef0123456789abcdef"

func TestSignPrintsTheCanonicalStringWithCredentialsMasked(t *testing.T) {
	env := map[string]string{envAppSecret: testSecret}
	body := `{"phone":"13800000000","note":"<&>"}`
	r := runWith(t, env, time.Now, "", "sign", "--query", signQuery, "--body", body).ok(t)
	golden(t, "sign", r.stdout)
	q, err := url.ParseQuery(signQuery)
	require.NoError(t, err)
	require.Contains(t, r.stdout, ump.Sign(q, []byte(body), testSecret), "the sign the SDK computes")
	require.NotContains(t, r.stdout, testSecret)
	require.NotContains(t, r.stdout, "at0123456789abcdef", "the access token was printed")
	require.Empty(t, r.stderr)

	var j struct{ Canonical, Sign string }
	decodeJSON(t, runWith(t, env, time.Now, "", "sign", "--query", signQuery, "--body", body, "-o", "json").ok(t).stdout, &j)
	require.Equal(t, ump.Sign(q, []byte(body), testSecret), j.Sign)
	require.Equal(t, `access_token<access_token: 34 bytes>timestamp1741917600000`+body+`<app_secret: 32 bytes>`, j.Canonical)
}

func TestSignReadsTheBodyExactlyFromStdinOrAFile(t *testing.T) {
	env := map[string]string{envAppSecret: testSecret, "OTHER": "XYZ"}
	body := "{\"orderNo\":123}\n" // as `echo` writes it: the newline is signed too
	file := filepath.Join(t.TempDir(), "body.json")
	require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
	want := ump.Sign(url.Values{"a": {"1"}}, []byte(body), testSecret)
	for _, arg := range []string{"-", "@" + file} {
		r := runWith(t, env, time.Now, body, "sign", "--query", "a=1", "--body", arg).ok(t)
		require.Contains(t, r.stdout, want, arg)
		require.Contains(t, r.stderr, "the body ends with a newline", arg)
	}
	r := runWith(t, env, time.Now, "", "sign", "--query", "a=1", "--body", "@"+file+".missing")
	require.Equal(t, exitUsage, r.code)

	// --secret-env names the variable.
	r = runWith(t, env, time.Now, "", "sign", "--query", "a=1", "--secret-env", "OTHER").ok(t)
	require.Contains(t, r.stdout, ump.Sign(url.Values{"a": {"1"}}, nil, "XYZ"))
	require.Contains(t, r.stdout, "<app_secret: 3 bytes>")
}

func TestSignUsageErrors(t *testing.T) {
	r := runWith(t, nil, time.Now, "", "sign", "--query", "a=1")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no app secret")
	r = runWith(t, map[string]string{envAppSecret: "x"}, time.Now, "", "sign", "--query", "a=%zz")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "--query")
}
