package ump

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/greedc/ump-go/internal/testutil/logtest"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
)

const (
	piiPhone  = "13800001234"
	piiIDCard = "440402199001011234"
)

// TestNothingSecretReachesLogsOrErrors drives successful calls, retries, a
// token obtain and refresh, a 401 recovery and several kinds of failure with
// debug logging on, and searches every log line and error string for the
// app secret, tokens, signs, the full phone number and identity number.
func TestNothingSecretReachesLogsOrErrors(t *testing.T) {
	var logs logtest.Buffer
	logger := logtest.DebugLogger(&logs)
	ctx := context.Background()
	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	body := map[string]string{"phone": piiPhone, "id_card": piiIDCard, "name": "张三"}
	echo := `{"success":false,"error_code":120001,"error_message":"非法的电话` + piiPhone + `, 身份证` + piiIDCard + `"}`

	// Cold start: obtain; then a success, retries, failures.
	c, m := mockSetup(t, NewMemoryTokenStore(), WithLogger(logger))
	var secrets []string
	m.route(epRead.method, func(r wireReq, n int) (*http.Response, error) {
		switch {
		case n <= 2: // busy twice, then success
			return jsonResponse(200, `{"success":false,"error_code":500,"error_message":"系统繁忙"}`), nil
		case n == 3:
			return jsonResponse(200, `{"success":true,"data":{"code":1,"name":"`+piiPhone+`"}}`), nil
		case n == 4: // the token is rejected: refresh and repeat
			return jsonResponse(401, `{"success":false,"error_message":"access_token `+r.Query.Get("access_token")+` invalid"}`), nil
		case n == 5:
			return jsonResponse(200, `{"success":true,"data":{"code":2}}`), nil
		default: // a proxy page echoing the whole request
			page := "<html><body>502 Bad Gateway for /gw/gateway/wk.test.read/v1?" + r.RawQuery +
				" secret " + testAppSecret + " phone " + piiPhone + " id " + piiIDCard + "</body></html>"
			return httpmock.NewStringResponse(502, page), nil
		}
	})
	m.reply(epWrite.method, echo)

	_, _, err := call[echoOut](ctx, c, &epRead, body, "") // obtain, 2 retries, success
	keep(err)
	_, _, err = call[echoOut](ctx, c, &epRead, body, "") // 401, refresh, success
	keep(err)
	_, _, err = call[echoOut](ctx, c, &epRead, body, "") // HTML pages, retried
	keep(err)
	_, _, err = call[echoOut](ctx, c, &epWrite, body, "") // API error echoing personal data
	keep(err)
	// An unknown outcome, and a transport error, on a write.
	m.route(epWrite.method, func(wireReq, int) (*http.Response, error) {
		return nil, &resetError{}
	})
	_, _, err = call[echoOut](ctx, c, &epWrite, body, "")
	keep(err)
	// A deadline.
	m.route(epRead.method, func(r wireReq, _ int) (*http.Response, error) {
		time.Sleep(5 * time.Millisecond)
		return jsonResponse(200, `{"success":true}`), nil
	})
	// Already past: the error is certain, whatever the machine's load.
	dctx, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Millisecond))
	_, _, err = call[echoOut](dctx, c, &epRead, body, "")
	cancel()
	keep(err)
	// Token failures: a refresh refused by the gateway echoing the token.
	c2, m2 := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)), WithLogger(logger))
	m2.route(epRefresh.method, func(r wireReq, _ int) (*http.Response, error) {
		return jsonResponse(200, `{"success":false,"error_code":1001,"error_message":"refresh_token=`+r.Query.Get("refresh_token")+` 无效"}`), nil
	})
	_, _, err = call[echoOut](ctx, c2, &epRead, body, "")
	keep(err)
	_, err = c2.Auth.Obtain(ctx)
	keep(err)
	st, err := c2.Auth.Status(ctx)
	keep(err)
	logger.Info("status", "status", st)
	// A refused refresh token (echoed): one obtain instead.
	c3, m3 := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)), WithLogger(logger))
	m3.route(epRefresh.method, func(r wireReq, _ int) (*http.Response, error) {
		return jsonResponse(401, `{"success":false,"error_message":"refresh_token `+r.Query.Get("refresh_token")+` 无效"}`), nil
	})
	okRead(m3)
	_, _, err = call[echoOut](ctx, c3, &epRead, body, "")
	require.NoError(t, err)
	// The day's obtain spent: the error names who spent it, and when.
	spentStore := storeWith(t, Token{AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: time.Now().Add(-time.Hour), RefreshExpiresAt: time.Now().Add(-time.Minute)})
	spend(t, spentStore, TokenObtain, time.Now(), 1)
	c4, m4 := mockSetup(t, spentStore, WithLogger(logger))
	_, _, err = call[echoOut](ctx, c4, &epRead, body, "")
	require.ErrorIs(t, err, ErrTokenBudgetExhausted)
	require.Contains(t, err.Error(), "1 of 1 obtain calls spent on "+BeijingDay(time.Now())+" at ")
	require.Contains(t, err.Error(), " by test/1")
	keep(err)
	st, err = c4.Auth.Status(ctx)
	keep(err)
	logger.Info("status", "status", st)

	for _, e := range errs {
		t.Log(e)
	}
	require.GreaterOrEqual(t, len(errs), 5)
	for _, mg := range []*mockGW{m, m2, m3, m4} {
		for _, r := range append(mg.requests(epRead.method), append(mg.requests(epWrite.method),
			append(mg.requests(epRefresh.method), mg.requests(epObtain.method)...)...)...) {
			for _, k := range []string{"access_token", "refresh_token", "sign"} {
				if v := r.Query.Get(k); v != "" {
					secrets = append(secrets, v)
				}
			}
		}
	}
	require.Greater(t, len(secrets), 10)
	secrets = append(secrets, testAppSecret, testAccessToken, testRefreshToken, piiPhone, piiIDCard)

	out := logs.String()
	for _, want := range []string{"ump: call", "ump: retrying", "ump: obtaining a fresh token", "ump: refreshing the access token", "level=DEBUG",
		`level=WARN msg="ump: obtaining a fresh token: it retires the token every other holder has`,
		`level=WARN msg="ump: token call failed" call=refresh budget_given_back=true paused_until=`,
		`level=WARN msg="ump: the gateway refused the refresh token; obtaining a fresh token once`,
		`level=WARN msg="ump: the gateway rejected an access token issued minutes ago`} {
		require.Contains(t, out, want, "the scenario did not log what it should have")
	}
	lines := strings.Split(out, "\n")
	var paused bool
	for _, err := range errs {
		lines = append(lines, err.Error())
		paused = paused || errors.Is(err, ErrTokenCallsPaused)
	}
	require.True(t, paused, "the scenario made no call while token calls were paused")
	logtest.RequireNoneShown(t, lines, secrets)
}

// resetError is a transport failure after the request was written.
type resetError struct{}

func (*resetError) Error() string {
	return "read tcp 10.0.0.1:50000->10.0.0.2:443: read: connection reset by peer"
}
func (*resetError) Timeout() bool   { return false }
func (*resetError) Temporary() bool { return false }
