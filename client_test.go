package ump

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name  string
		id    string
		sec   string
		opt   Option
		inErr string
	}{
		{"empty app id", "", testAppSecret, nil, "appID"},
		{"blank app id", "  ", testAppSecret, nil, "appID"},
		{"empty secret", testAppID, "", nil, "appSecret"},
		{"base URL without scheme", testAppID, testAppSecret, WithBaseURL("ump.example.com"), "WithBaseURL"},
		{"base URL ftp", testAppID, testAppSecret, WithBaseURL("ftp://ump.example.com"), "WithBaseURL"},
		{"base URL without host", testAppID, testAppSecret, WithBaseURL("https://"), "WithBaseURL"},
		{"base URL with query", testAppID, testAppSecret, WithBaseURL("https://ump.example.com/?a=1"), "WithBaseURL"},
		{"base URL unparsable", testAppID, testAppSecret, WithBaseURL("https://ump example.com:x"), "WithBaseURL"},
		{"nil http client", testAppID, testAppSecret, WithHTTPClient(nil), "WithHTTPClient"},
		{"zero timeout", testAppID, testAppSecret, WithTimeout(0), "WithTimeout"},
		{"negative timeout", testAppID, testAppSecret, WithTimeout(-time.Second), "WithTimeout"},
		{"zero attempts", testAppID, testAppSecret, WithRetry(RetryPolicy{}), "MaxAttempts"},
		{"negative backoff", testAppID, testAppSecret, WithRetry(RetryPolicy{MaxAttempts: 2, InitialBackoff: -1}), "backoff"},
		{"max below initial", testAppID, testAppSecret, WithRetry(RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Second, MaxBackoff: time.Millisecond}), "backoff"},
		{"nil logger", testAppID, testAppSecret, WithLogger(nil), "WithLogger"},
		{"nil store", testAppID, testAppSecret, WithTokenStore(nil), "WithTokenStore"},
		{"nil clock", testAppID, testAppSecret, WithClock(nil), "WithClock"},
		{"header injection", testAppID, testAppSecret, WithUserAgent("x\r\nX-Evil: 1"), "WithUserAgent"},
		{"refresh window too long", testAppID, testAppSecret, WithTokenRefreshWindow(2 * time.Hour), "WithTokenRefreshWindow"},
		{"budget above the platform's", testAppID, testAppSecret, WithTokenBudget(TokenBudget{ObtainsPerDay: 1, RefreshesPerDay: 21}), "RefreshesPerDay"},
		{"headroom above budget", testAppID, testAppSecret, WithTokenBudget(TokenBudget{ObtainsPerDay: 1, RefreshesPerDay: 5, RefreshHeadroom: 6}), "RefreshHeadroom"},
		{"tiny response cap", testAppID, testAppSecret, WithMaxResponseBytes(10), "WithMaxResponseBytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.id, tc.sec, tc.opt)
			require.Nil(t, c)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.inErr)
			require.True(t, strings.HasPrefix(err.Error(), "ump: "), err.Error())
			require.NotContains(t, err.Error(), testAppSecret)
		})
	}
	c, err := NewClient(testAppID, testAppSecret, nil, WithBaseURL("https://ump.example.com:8443/"))
	require.NoError(t, err, "nil options are skipped")
	require.Equal(t, "https://ump.example.com:8443", c.baseURL)
	require.Equal(t, testAppID, c.AppID())
}

func TestWithHTTPClientLeavesCallersClientAlone(t *testing.T) {
	_, g := setup(t)
	g.reply(epRead.method, `{"success":true,"data":{}}`)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	redirect := func(*http.Request, []*http.Request) error { return nil }
	hc := &http.Client{Transport: tr, Timeout: 42 * time.Second, CheckRedirect: redirect}
	before := *hc
	c, err := NewClient(testAppID, testAppSecret, WithBaseURL(g.server.URL), WithHTTPClient(hc), WithTimeout(3*time.Second),
		WithTokenStore(storeWith(t, Token{AccessToken: testAccessToken, RefreshToken: testRefreshToken,
			AccessExpiresAt: time.Now().Add(time.Hour), RefreshExpiresAt: time.Now().Add(time.Hour)})))
	require.NoError(t, err)
	_, _, err = call[echoOut](context.Background(), c, &epRead, nil, "")
	require.NoError(t, err)
	require.Equal(t, 42*time.Second, hc.Timeout, "WithTimeout applies to the SDK's copy only")
	require.Same(t, tr, hc.Transport)
	require.Nil(t, hc.Jar)
	require.Equal(t, before.Timeout, hc.Timeout)
	require.Equal(t, 3*time.Second, c.rc.GetClient().Timeout)
	require.NotSame(t, hc, c.rc.GetClient())
}

// TestMisuseNamesNewClient: a Client that NewClient did not build, and its
// services, panic with a message naming NewClient, not a nil dereference.
func TestMisuseNamesNewClient(t *testing.T) {
	ctx := context.Background()
	var zero Client
	var nilClient *Client
	uses := map[string]func(){
		"zero Client: Member.Get":        func() { _, _ = zero.Member.Get(ctx, &MemberQuery{Phone: "13800000000"}) },
		"zero Client: Member.AllLevels":  func() { _ = zero.Member.AllLevels(ctx, nil) },
		"zero Client: Score.Change":      func() { _, _ = zero.Score.Change(ctx, &ScoreChangeRequest{}) },
		"zero Client: Order.SyncConsume": func() { _, _ = zero.Order.SyncConsume(ctx, nil) },
		"zero Client: Coupon.Give":       func() { _, _ = zero.Coupon.Give(ctx, nil) },
		"zero Client: SMS.SendCode":      func() { _ = zero.SMS.SendCode(ctx, "13800000000") },
		"zero Client: Raw":               func() { _, _ = zero.Raw(ctx, "wk.user.info.query", nil) },
		"zero Client: AppID":             func() { _ = zero.AppID() },
		"nil *Client: Raw":               func() { _, _ = nilClient.Raw(ctx, "wk.user.info.query", nil) },
		"nil *Client: AppID":             func() { _ = nilClient.AppID() },
		"service of a zero Client":       func() { _, _ = (&MemberService{}).Get(ctx, nil) },
	}
	for name, use := range uses {
		t.Run(name, func(t *testing.T) {
			require.PanicsWithValue(t, notBuilt, use)
		})
	}
	require.Contains(t, notBuilt, "NewClient")
}
