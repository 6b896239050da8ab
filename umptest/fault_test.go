package umptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// TestEachFaultKind sends a score change under each fault and checks what
// the client saw and whether the points moved.
func TestEachFaultKind(t *testing.T) {
	cases := []struct {
		fault   umptest.Fault
		applied bool
		check   func(t *testing.T, a answer)
	}{
		{umptest.Fault{Kind: umptest.Delay, Delay: 2 * time.Millisecond}, true, func(t *testing.T, a answer) {
			require.NoError(t, a.err)
			require.True(t, a.success(), "%s", a.body)
		}},
		{umptest.Fault{Kind: umptest.HTTPStatus, Status: http.StatusGatewayTimeout}, false, func(t *testing.T, a answer) {
			require.NoError(t, a.err)
			require.Equal(t, http.StatusGatewayTimeout, a.status)
			require.Contains(t, a.header.Get("Content-Type"), "text/plain")
			require.False(t, json.Valid(a.body))
		}},
		{umptest.Fault{Kind: umptest.HTTPStatus}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusServiceUnavailable, a.status, "the default status")
		}},
		{umptest.Fault{Kind: umptest.SystemBusy}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusOK, a.status)
			require.False(t, a.success())
			require.Equal(t, int64(500), a.code())
		}},
		{umptest.Fault{Kind: umptest.HTMLPage}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusBadGateway, a.status)
			require.Equal(t, "text/html", a.header.Get("Content-Type"))
			require.True(t, strings.HasPrefix(string(a.body), "<html>"), "%s", a.body)
			require.Contains(t, string(a.body), "502 Bad Gateway")
		}},
		{umptest.Fault{Kind: umptest.MalformedBody}, true, func(t *testing.T, a answer) {
			require.NoError(t, a.err)
			require.Equal(t, http.StatusOK, a.status)
			require.False(t, json.Valid(a.body), "%s", a.body)
			require.True(t, strings.HasPrefix(string(a.body), `{"success":true`), "the start of the real answer")
		}},
		{umptest.Fault{Kind: umptest.DropBeforeApply}, false, func(t *testing.T, a answer) {
			require.Error(t, a.err)
		}},
		{umptest.Fault{Kind: umptest.DropAfterApply}, true, func(t *testing.T, a answer) {
			require.Error(t, a.err)
		}},
		{umptest.Fault{Kind: umptest.Redirect}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusTemporaryRedirect, a.status)
			loc := a.header.Get("Location")
			require.True(t, strings.HasPrefix(loc, "http://redirect.invalid/gw/gateway/wk.user.event.score.change/v1?"), loc)
			require.Contains(t, loc, "access_token=", "the credentials travel, as a hijacker would want")
		}},
		{umptest.Fault{Kind: umptest.Redirect, Status: http.StatusMovedPermanently, Location: "https://elsewhere.example/"}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusMovedPermanently, a.status)
			require.True(t, strings.HasPrefix(a.header.Get("Location"), "https://elsewhere.example/gw/gateway/"), a.header.Get("Location"))
		}},
		{umptest.Fault{Kind: umptest.EchoRequest}, false, func(t *testing.T, a answer) {
			require.Equal(t, http.StatusOK, a.status)
			require.Equal(t, int64(1001), a.code())
			msg := a.env["error_message"].(string)
			for _, echoed := range []string{"access_token=", "sign=", `"change_id":"c1"`, umptest.DefaultAppSecret} {
				require.Contains(t, msg, echoed)
				require.Contains(t, a.env["data"], echoed)
			}
		}},
		{umptest.Fault{Kind: umptest.OddData}, true, func(t *testing.T, a answer) {
			require.True(t, a.success(), "%s", a.body)
			require.IsType(t, []any{}, a.env["data"], "an array where 3.3 answers an object")
		}},
		{umptest.Fault{Kind: umptest.HugeAnswer, Size: 256 << 10}, true, func(t *testing.T, a answer) {
			require.Greater(t, len(a.body), 256<<10)
			require.True(t, a.success(), "valid JSON, still a success")
			require.Contains(t, a.env, "data")
		}},
		{umptest.Fault{Kind: umptest.NoDate}, true, func(t *testing.T, a answer) {
			require.True(t, a.success(), "%s", a.body)
			require.NotContains(t, a.header, "Date")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.fault.Kind.String()+"/"+strconv.Itoa(tc.fault.Status), func(t *testing.T) {
			srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
			defer srv.Close()
			hc := newHTTPClient(t)
			tok := srv.IssueToken().AccessToken
			id := srv.AddMember(umptest.Member{Phone: "13800000000"})
			f := tc.fault
			f.Times = 1
			srv.Fail("wk.user.event.score.change", f)

			tc.check(t, sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: changeBody(id, "c1", "event_add", 10)}))
			want := int64(0)
			if tc.applied {
				want = 10
			}
			require.Equal(t, want, srv.Balance(id), "applied")

			// Times: 1 — the next call goes through.
			a := send(t, hc, srv, "wk.user.event.score.change", raw{value: tok, body: changeBody(id, "c2", "event_add", 1)})
			require.True(t, a.success(), "%s", a.body)
			reqs := srv.Requests()
			require.Len(t, reqs, 2)
			require.Equal(t, f.Kind, reqs[0].Fault)
			require.Zero(t, reqs[1].Fault)
			require.Equal(t, 2, srv.Stats().Calls["wk.user.event.score.change"])
			require.NoError(t, srv.Audit())
		})
	}
}

func TestHTMLPageEchoesTheRequestLikeSomeProxies(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	tok := srv.IssueToken().AccessToken
	srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.HTMLPage, Status: 504})
	a := send(t, newHTTPClient(t), srv, "wk.user.level.list", raw{value: tok})
	require.Equal(t, 504, a.status)
	require.Contains(t, string(a.body), "access_token="+tok, "so a client's redaction of samples is exercised")
}

func TestFaultRateIsReproducibleWithASeed(t *testing.T) {
	hits := func(seed uint64) []bool {
		srv := umptest.NewServer(umptest.WithSeed(seed))
		defer srv.Close()
		hc := newHTTPClient(t)
		tok := srv.IssueToken().AccessToken
		srv.Fail("wk.user.level.list", umptest.Fault{Kind: umptest.SystemBusy, Rate: 0.5})
		var out []bool
		for range 24 {
			out = append(out, send(t, hc, srv, "wk.user.level.list", raw{value: tok}).code() == 500)
		}
		return out
	}
	a, b := hits(42), hits(42)
	require.Equal(t, a, b)
	n := 0
	for _, h := range a {
		if h {
			n++
		}
	}
	require.Greater(t, n, 0)
	require.Less(t, n, len(a))
}

func TestFaultSelection(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.HTTPStatus})
	srv.Fail("wk.user.level.list", umptest.Fault{Kind: umptest.SystemBusy, Times: 2})

	for range 2 {
		require.Equal(t, int64(500), send(t, hc, srv, "wk.user.level.list", raw{value: tok}).code(), "the method's own fault first")
	}
	require.Equal(t, http.StatusServiceUnavailable, send(t, hc, srv, "wk.user.level.list", raw{value: tok}).status, "then AnyMethod's")
	require.Equal(t, http.StatusServiceUnavailable, send(t, hc, srv, "wk.user.info.query", raw{value: tok}).status)
	srv.ClearFaults()
	require.True(t, send(t, hc, srv, "wk.user.level.list", raw{value: tok}).success())
}

// TestDelayEndsWhenTheClientGivesUpAndTheCallStillApplies is the slow
// gateway: the client times out, the gateway finishes the work anyway.
func TestDelayEndsWhenTheClientGivesUpAndTheCallStillApplies(t *testing.T) {
	srv := umptest.NewServer()
	tok := srv.IssueToken().AccessToken
	id := srv.AddMember(umptest.Member{Phone: "13800000000"})
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.Delay, Delay: time.Hour})
	hc := newHTTPClient(t)
	hc.Timeout = 20 * time.Millisecond
	a := sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: changeBody(id, "c1", "event_add", 7)})
	require.Error(t, a.err)
	srv.Close() // waits for the handler, which must not wait out the hour
	require.Equal(t, int64(7), srv.Balance(id))
}

// TestSDKSeesFaultsAsTheDocumentedErrors drives the SDK's token call through
// faults: the fault kinds map to the SDK's error types.
func TestSDKSeesFaultsAsTheDocumentedErrors(t *testing.T) {
	ctx := context.Background()
	noRetry := ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1})

	srv := umptest.NewServer()
	defer srv.Close()
	srv.Fail("dss.auth.token.query", umptest.Fault{Kind: umptest.HTMLPage, Times: 1})
	_, err := srv.Client(noRetry).Auth.Obtain(ctx)
	var respErr *ump.ResponseError
	require.ErrorAs(t, err, &respErr)
	require.Equal(t, http.StatusBadGateway, respErr.HTTPStatus)

	srv.Fail("dss.auth.token.query", umptest.Fault{Kind: umptest.SystemBusy, Times: 1})
	_, err = srv.Client(noRetry).Auth.Obtain(ctx)
	require.True(t, errors.Is(err, ump.ErrSystemBusy), "%v", err)

	srv.Fail("dss.auth.token.query", umptest.Fault{Kind: umptest.DropBeforeApply, Times: 1})
	_, err = srv.Client(noRetry).Auth.Obtain(ctx)
	var trErr *ump.TransportError
	require.ErrorAs(t, err, &trErr)
	require.Zero(t, srv.Stats().TokenObtains, "none of those issued a token")
}
