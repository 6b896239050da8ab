package umptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/umptest"
)

func TestClientObtainsATokenAndCallsSucceed(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
	defer srv.Close()
	hc := newHTTPClient(t)
	ctx := context.Background()

	tok, err := srv.Client().Auth.AccessToken(ctx)
	require.NoError(t, err)
	require.Regexp(t, `^at[0-9A-F]{32}$`, tok)

	a := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: `{"page_no":1,"page_size":10}`})
	require.True(t, a.success(), "%s", a.body)
	require.Equal(t, json.Number("7"), a.env["totalCount"])

	st := srv.Stats()
	require.Equal(t, 1, st.TokenObtains)
	require.Equal(t, map[string]int{"dss.auth.token.query": 1, "wk.user.level.list": 1}, st.Calls)
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	require.Equal(t, "wk.user.level.list", reqs[1].Method)
	require.Equal(t, `{"page_no":1,"page_size":10}`, string(reqs[1].Body))
	require.Empty(t, reqs[1].Query.Get("access_token"), "credentials are not recorded")
	require.Empty(t, reqs[1].Query.Get("sign"))
	require.NotEmpty(t, reqs[1].Query.Get("timestamp"))
	require.Equal(t, srv.AppID, reqs[0].Query.Get("app_id"))
}

func TestWrongSignIsRejected(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	id := srv.AddMember(umptest.Member{Phone: "13800000000"})
	body := changeBody(id, "c1", "event_add", 10)

	cases := map[string]raw{
		"another secret":        {value: tok, body: body, secret: "not-the-secret"},
		"body changed":          {value: tok, body: strings.Replace(body, `"score":10`, `"score":99`, 1), after: func(q url.Values) { q.Set("sign", ump.Sign(q, []byte(body), srv.AppSecret)) }},
		"query changed":         {value: tok, body: body, after: func(q url.Values) { q.Set("extra", "1") }},
		"sign missing":          {value: tok, body: body, after: func(q url.Values) { q.Del("sign") }},
		"upper-case hex digest": {value: tok, body: body, after: func(q url.Values) { q.Set("sign", strings.ToUpper(q.Get("sign"))) }},
	}
	for name, r := range cases {
		a := send(t, hc, srv, "wk.user.event.score.change", r)
		require.Equal(t, http.StatusOK, a.status, name)
		require.False(t, a.success(), name)
		require.Equal(t, int64(1002), a.code(), "%s: %s", name, a.body)
	}
	require.Zero(t, srv.Balance(id), "nothing was applied")
	require.Equal(t, len(cases), srv.Stats().Rejected)
	require.True(t, send(t, hc, srv, "wk.user.event.score.change", raw{value: tok, body: body}).success())
}

func TestTimestampMoreThanThreeSecondsOffIsRejected(t *testing.T) {
	clk := umptest.NewClock(t0)
	srv := umptest.NewServer(umptest.WithClock(clk))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	body := `{"page_no":1}`

	for _, off := range []time.Duration{-3001 * time.Millisecond, 3001 * time.Millisecond, -time.Hour} {
		a := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: body, at: t0.Add(off)})
		require.Equal(t, int64(1003), a.code(), "%v: %s", off, a.body)
	}
	for _, off := range []time.Duration{-3 * time.Second, 3 * time.Second, 0} {
		a := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: body, at: t0.Add(off)})
		require.True(t, a.success(), "%v: %s", off, a.body)
	}
	a := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: body, after: func(q url.Values) {
		q.Set("timestamp", "2024-05-01 10:00:00")
		q.Set("sign", ump.Sign(q, []byte(body), srv.AppSecret))
	}})
	require.Equal(t, int64(1003), a.code(), "not epoch milliseconds")
	require.Equal(t, 4, srv.Stats().Rejected)
}

func TestAccessTokenExpiresAfter7200Seconds(t *testing.T) {
	clk := umptest.NewClock(t0)
	srv := umptest.NewServer(umptest.WithClock(clk))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken()
	require.Equal(t, t0.Add(7200*time.Second), tok.AccessExpiresAt)

	clk.Advance(7199 * time.Second)
	require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: tok.AccessToken}).success())
	clk.Advance(time.Second)
	a := send(t, hc, srv, "wk.user.level.list", raw{value: tok.AccessToken})
	require.Equal(t, http.StatusUnauthorized, a.status)
	require.False(t, a.success())
	require.Equal(t, int64(401), a.code(), "%s", a.body)
	a = send(t, hc, srv, "wk.user.level.list", raw{value: "at" + strings.Repeat("0", 32)})
	require.Equal(t, http.StatusUnauthorized, a.status, "an unknown token")
	require.Equal(t, 2, srv.Stats().Rejected)
}

func TestClientRefreshesAnExpiredTokenAndTheOldOneStops(t *testing.T) {
	clk := umptest.NewClock(t0)
	srv := umptest.NewServer(umptest.WithClock(clk))
	defer srv.Close()
	hc := newHTTPClient(t)
	ctx := context.Background()
	c := srv.Client()

	first, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)
	clk.Advance(7200 * time.Second)
	second, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)
	require.NotEqual(t, first, second)
	st := srv.Stats()
	require.Equal(t, 1, st.TokenObtains)
	require.Equal(t, 1, st.TokenRefreshes)
	require.Equal(t, http.StatusUnauthorized, send(t, hc, srv, "wk.user.level.list", raw{value: first}).status)
	require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: second}).success())
}

func TestRefreshRetiresThePreviousAccessToken(t *testing.T) {
	ctx := context.Background()
	t.Run("at once by default", func(t *testing.T) {
		srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
		defer srv.Close()
		hc := newHTTPClient(t)
		c := srv.Client()
		old, err := c.Auth.Obtain(ctx)
		require.NoError(t, err)
		next, err := c.Auth.Refresh(ctx, old.RefreshToken)
		require.NoError(t, err)
		require.Equal(t, old.RefreshToken, next.RefreshToken, "2.2 answers no new refresh token")
		require.Equal(t, http.StatusUnauthorized, send(t, hc, srv, "wk.user.level.list", raw{value: old.AccessToken}).status)
		require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: next.AccessToken}).success())
	})
	t.Run("after WithRefreshGrace", func(t *testing.T) {
		clk := umptest.NewClock(t0)
		srv := umptest.NewServer(umptest.WithClock(clk), umptest.WithRefreshGrace(time.Minute))
		defer srv.Close()
		hc := newHTTPClient(t)
		c := srv.Client()
		old, err := c.Auth.Obtain(ctx)
		require.NoError(t, err)
		_, err = c.Auth.Refresh(ctx, old.RefreshToken)
		require.NoError(t, err)
		require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: old.AccessToken}).success())
		clk.Advance(time.Minute)
		require.Equal(t, http.StatusUnauthorized, send(t, hc, srv, "wk.user.level.list", raw{value: old.AccessToken}).status)
	})
	t.Run("ExpireAccessTokens ends every token now", func(t *testing.T) {
		srv := umptest.NewServer()
		defer srv.Close()
		hc := newHTTPClient(t)
		a, b := srv.IssueToken(), srv.IssueToken()
		require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: a.AccessToken}).success(), "IssueToken retires nothing")
		srv.ExpireAccessTokens()
		for _, tok := range []string{a.AccessToken, b.AccessToken} {
			require.Equal(t, http.StatusUnauthorized, send(t, hc, srv, "wk.user.level.list", raw{value: tok}).status)
		}
		r := send(t, hc, srv, "dss.auth.token.refresh", raw{cred: "refresh_token", value: a.RefreshToken})
		require.True(t, r.success(), "the refresh token still works: %s", r.body)
		srv.ExpireRefreshTokens()
		r = send(t, hc, srv, "dss.auth.token.refresh", raw{cred: "refresh_token", value: a.RefreshToken})
		require.Equal(t, int64(1006), r.code())
	})
}

func TestObtainOncePerBeijingDay(t *testing.T) {
	// 23:58 in Beijing is 15:58 UTC: the UTC date does not change at the
	// Beijing midnight the test crosses.
	clk := umptest.NewClock(time.Date(2024, 5, 1, 23, 58, 0, 0, wire.Beijing))
	srv := umptest.NewServer(umptest.WithClock(clk))
	defer srv.Close()
	ctx := context.Background()

	_, err := srv.Client().Auth.Obtain(ctx)
	require.NoError(t, err)
	// A second client has its own budget, so its obtain reaches the gateway.
	_, err = srv.Client().Auth.Obtain(ctx)
	var apiErr *ump.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, int64(1004), apiErr.Code)

	clk.Advance(2 * time.Minute)
	_, err = srv.Client().Auth.Obtain(ctx)
	require.NoError(t, err, "a new Beijing day")
	require.Equal(t, 2, srv.Stats().TokenObtains)
}

func TestTwentyRefreshesPerBeijingDay(t *testing.T) {
	clk := umptest.NewClock(t0)
	srv := umptest.NewServer(umptest.WithClock(clk))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok, err := srv.Client().Auth.Obtain(context.Background())
	require.NoError(t, err)

	refresh := raw{cred: "refresh_token", value: tok.RefreshToken}
	for i := range 20 {
		a := send(t, hc, srv, "dss.auth.token.refresh", refresh)
		require.True(t, a.success(), "refresh %d: %s", i+1, a.body)
		data := a.env["data"].(map[string]any)
		require.Regexp(t, `^at[0-9A-F]{32}$`, data["access_token"])
		require.Equal(t, json.Number("7200"), data["expire_in"])
		require.NotContains(t, data, "refresh_token")
	}
	a := send(t, hc, srv, "dss.auth.token.refresh", refresh)
	require.Equal(t, int64(1004), a.code(), "the 21st: %s", a.body)
	require.Equal(t, 20, srv.Stats().TokenRefreshes)

	clk.Advance(14 * time.Hour) // 00:00 the next day in Beijing
	require.True(t, send(t, hc, srv, "dss.auth.token.refresh", refresh).success())
}

func TestTokenCallRefusals(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	a := send(t, hc, srv, "dss.auth.token.query", raw{cred: "app_id", value: "someone-else"})
	require.Equal(t, int64(110004), a.code())
	a = send(t, hc, srv, "dss.auth.token.query", raw{cred: "app_id", value: srv.AppID, secret: "wrong"})
	require.Equal(t, int64(1002), a.code())
	a = send(t, hc, srv, "dss.auth.token.refresh", raw{cred: "refresh_token", value: "rt-unknown"})
	require.Equal(t, int64(1006), a.code())
	require.Equal(t, 3, srv.Stats().Rejected)
	require.Zero(t, srv.Stats().TokenObtains)
	a = send(t, hc, srv, "dss.auth.token.query", raw{cred: "app_id", value: srv.AppID})
	require.JSONEq(t, `{"success":true,"data":{"access_token":"","refresh_token":"","expire_in":7200}}`,
		blankTokens(t, a.body), "the shape of the 2.1 example")
}

// blankTokens empties the token values of a 2.1 answer so its shape can be
// compared.
func blankTokens(t *testing.T, body []byte) string {
	var env map[string]any
	require.NoError(t, json.Unmarshal(body, &env))
	data := env["data"].(map[string]any)
	require.Len(t, data["access_token"], 34)
	require.Len(t, data["refresh_token"], 34)
	data["access_token"], data["refresh_token"] = "", ""
	b, _ := json.Marshal(env)
	return string(b)
}

func TestGETWithBusinessParametersInTheQuery(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	a := send(t, hc, srv, "wk.user.level.list", raw{verb: http.MethodGet, value: tok, params: url.Values{"page_no": {"1"}, "page_size": {"2"}}})
	require.True(t, a.success(), "%s", a.body)
	require.Len(t, a.env["data"], 2)
	require.Equal(t, http.MethodGet, srv.Requests()[0].Verb)
	require.Equal(t, "2", srv.Requests()[0].Query.Get("page_size"))
}

func TestLoggerNamesCallsButNoCredentials(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	srv := umptest.NewServer(umptest.WithLogger(log))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok, err := srv.Client().Auth.Obtain(context.Background())
	require.NoError(t, err)
	send(t, hc, srv, "wk.user.info.query", raw{value: tok.AccessToken, body: `{"phone":"13800000000"}`})
	srv.Fail("wk.user.level.list", umptest.Fault{Kind: umptest.SystemBusy})
	send(t, hc, srv, "wk.user.level.list", raw{value: tok.AccessToken})

	out := buf.String()
	require.Contains(t, out, "method=dss.auth.token.query")
	require.Contains(t, out, "method=wk.user.info.query")
	require.Contains(t, out, "code=110003")
	require.Contains(t, out, "fault=SystemBusy")
	for _, secret := range []string{srv.AppSecret, tok.AccessToken, tok.RefreshToken, "13800000000", "sign="} {
		require.NotContains(t, out, secret)
	}
}

func TestTLSServer(t *testing.T) {
	srv := umptest.NewServer(umptest.WithTLS())
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL, "https://"))
	c := srv.Client(ump.WithTimeout(5 * time.Second))
	_, err := c.Auth.AccessToken(context.Background())
	require.NoError(t, err)
}

func TestClientPanicsOnAnInvalidOption(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	require.PanicsWithValue(t, "umptest: Server.Client: ump: WithTimeout: 0s is not positive", func() {
		srv.Client(ump.WithTimeout(0))
	})
}

func TestSeedingHelpers(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	id := srv.AddMember(umptest.Member{Phone: "13800000000", Score: 50})
	require.Regexp(t, `^[0-9a-f]{32}$`, id)
	require.Equal(t, int64(50), srv.Balance("13800000000"), "by phone too")
	srv.SetBalance(id, 20)
	ledger := srv.Ledger(id)
	require.Len(t, ledger, 2)
	require.Equal(t, []int64{50, -30}, []int64{ledger[0].Delta, ledger[1].Delta})
	require.Equal(t, umptest.KindAdjust, ledger[1].Kind)
	require.NoError(t, srv.Audit())

	fixed := srv.AddMember(umptest.Member{OpenID: "25c56912e05847c0b09f03ca7e52b796", Phone: "15900947949"})
	require.Equal(t, "25c56912e05847c0b09f03ca7e52b796", fixed)
	m, ok := srv.Member("15900947949")
	require.True(t, ok)
	require.Equal(t, "18756", m.ProjectID)
	require.Panics(t, func() { srv.AddMember(umptest.Member{Phone: "15900947949"}) }, "a duplicate phone")
	require.Panics(t, func() { srv.SetBalance("nobody", 1) })
	require.Len(t, srv.Levels(), 7)
	srv.SetLevels([]umptest.Level{{ID: 1, Number: 1, Name: "普通"}, {ID: 2, Number: 2, Name: "金卡", Growth: 100}})
	srv.SetGrowth(id, 100)
	require.Len(t, srv.Levels(), 2)
	_, found := srv.Order("none")
	require.False(t, found)
	require.Empty(t, srv.Coupons(id))
	_, found = srv.LastSMSCode("13800000000")
	require.False(t, found)
}

func TestClockFollowsRealTimeByDefault(t *testing.T) {
	var c umptest.Clock
	before := time.Now()
	c.Advance(time.Hour)
	require.False(t, c.Now().Before(before.Add(time.Hour)))
	target := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(target)
	require.False(t, c.Now().Before(target))
	require.Less(t, c.Now().Sub(target), time.Hour)

	fixed := umptest.NewClock(t0)
	require.Equal(t, t0, fixed.Now())
	fixed.Advance(time.Second)
	require.Equal(t, t0.Add(time.Second), fixed.Now())
	fixed.Set(t0)
	require.Equal(t, t0, fixed.Now())
}

func TestUnknownMethodAndVerb(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	a := send(t, hc, srv, "wk.user.nothing", raw{value: tok})
	require.Equal(t, http.StatusNotFound, a.status)
	require.Equal(t, int64(404), a.code())
	a = send(t, hc, srv, "wk.user.level.list", raw{verb: http.MethodPut, value: tok})
	require.Equal(t, http.StatusMethodNotAllowed, a.status)
	require.Equal(t, int64(405), a.code())
}
