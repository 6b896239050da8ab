package ump

import (
	"crypto/md5"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// md5Hex is the digest computed independently of Sign: the tests below write
// the canonical string out by hand, so a bug in Sign's ordering or
// concatenation cannot hide behind the same bug in the expectation.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSignVectors(t *testing.T) {
	docParams := url.Values{"foo": {"1"}, "bar": {"2"}, "foo_bar": {"3"}, "foobar": {"4"}}
	cases := []struct {
		name      string
		params    url.Values
		body      []byte
		secret    string
		canonical string // what Sign must hash, secret included
	}{
		{
			name:   "document example",
			params: docParams, body: []byte(`{"orderNo":123}`), secret: "XYZ",
			canonical: `bar2foo1foo_bar3foobar4{"orderNo":123}XYZ`,
		},
		{
			name:   "empty body adds nothing",
			params: docParams, body: []byte{}, secret: "XYZ",
			canonical: `bar2foo1foo_bar3foobar4XYZ`,
		},
		{
			name:   "nil body adds nothing",
			params: docParams, body: nil, secret: "XYZ",
			canonical: `bar2foo1foo_bar3foobar4XYZ`,
		},
		{
			name:   "Chinese body is hashed as UTF-8",
			params: url.Values{"timestamp": {"1543222562000"}, "access_token": {testAccessToken}},
			body:   []byte(`{"name":"张三","remark":"积分<&>"}`), secret: testAppSecret,
			canonical: "access_token" + testAccessToken + "timestamp1543222562000" + `{"name":"张三","remark":"积分<&>"}` + testAppSecret,
		},
		{
			name:      "empty value contributes its name only",
			params:    url.Values{"app_id": {"wkb1ag2hdad7e6jw1r"}, "code": {""}, "redirect_url": {""}, "timestamp": {"1"}},
			secret:    "XYZ",
			canonical: "app_idwkb1ag2hdad7e6jw1rcoderedirect_urltimestamp1XYZ",
		},
		{
			name:   "sign parameter is ignored",
			params: url.Values{"foo": {"1"}, "bar": {"2"}, "foo_bar": {"3"}, "foobar": {"4"}, "sign": {"546e4aa36d2d624da5ff816ca030951c"}},
			body:   []byte(`{"orderNo":123}`), secret: "XYZ",
			canonical: `bar2foo1foo_bar3foobar4{"orderNo":123}XYZ`,
		},
		{
			name:      "several values: name+value once per value, in the order given",
			params:    url.Values{"b": {"2", "1"}, "a": {"z", "y", ""}},
			secret:    "XYZ",
			canonical: "azayab2b1XYZ",
		},
		{
			name:      "byte order: upper case and underscore sort before lower case",
			params:    url.Values{"a": {"1"}, "B": {"2"}, "_x": {"3"}, "a_b": {"4"}, "ab": {"5"}},
			secret:    "XYZ",
			canonical: "B2_x3a1a_b4ab5XYZ",
		},
		{
			name:   "no parameters at all",
			params: nil, body: []byte(`{}`), secret: "XYZ",
			canonical: "{}XYZ",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := md5Hex(tc.canonical)
			got := Sign(tc.params, tc.body, tc.secret)
			require.Equal(t, want, got)
			require.Len(t, got, 32)
			require.Equal(t, strings.ToLower(got), got, "lower-case hex")
			masked := strings.TrimSuffix(tc.canonical, tc.secret) + "<secret>"
			require.Equal(t, masked, CanonicalString(tc.params, tc.body, "<secret>"))
		})
	}
	// The document states the digest of its own example.
	require.Equal(t, "546e4aa36d2d624da5ff816ca030951c", md5Hex(`bar2foo1foo_bar3foobar4{"orderNo":123}XYZ`))
	require.Equal(t, "546e4aa36d2d624da5ff816ca030951c", Sign(docParams, []byte(`{"orderNo":123}`), "XYZ"))
}

// TestCanonicalStringHidesSecret: the debugging aid never shows the secret.
func TestCanonicalStringHidesSecret(t *testing.T) {
	q := url.Values{"access_token": {testAccessToken}, "timestamp": {"1"}, "sign": {"deadbeef"}}
	s := CanonicalString(q, []byte(`{"a":1}`), "***")
	require.Equal(t, "access_token"+testAccessToken+`timestamp1{"a":1}***`, s)
	require.NotContains(t, s, testAppSecret)
	require.NotContains(t, s, "deadbeef", "sign is not part of the canonical string")
}

// TestSignSortedMatchesSign: the request path's pre-sorted signing and the
// exported Sign agree, so the test gateway's check is meaningful.
func TestSignSortedMatchesSign(t *testing.T) {
	body := []byte(`{"phone":"13800000000"}`)
	for _, cred := range []string{"access_token", "app_id", "refresh_token"} {
		pairs := []param{{cred, "v"}, {"timestamp", "1700000000000"}}
		q := url.Values{cred: {"v"}, "timestamp": {"1700000000000"}}
		require.Equal(t, Sign(q, body, testAppSecret), signSorted(pairs, body, testAppSecret), cred)
		require.Equal(t, md5Hex(cred+"vtimestamp1700000000000"+string(body)+testAppSecret), signSorted(pairs, body, testAppSecret))
	}
}
