package ump

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/greedc/ump-go/internal/wire"
)

func TestRequestOnTheWire(t *testing.T) {
	clk := newStepClock(time.Now(), 0)
	c, m := mockSetup(t, nil, WithClock(clk.Now), WithUserAgent("pos-sync/2.0"))
	m.reply(epWrite.method, `{"success":true,"data":{"code":1,"name":"ok"}}`)

	body := map[string]any{"name": "张三 <VIP> & co", "phone": "13800000000", "amount": 12.5}
	_, _, err := call[echoOut](context.Background(), c, &epWrite, body, "")
	require.NoError(t, err)

	reqs := m.requests(epWrite.method)
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Verb)
	// The exact marshalled bytes, without HTML escaping or a trailing newline.
	require.Equal(t, `{"amount":12.5,"name":"张三 <VIP> & co","phone":"13800000000"}`, string(r.Body))
	require.Equal(t, "application/json; charset=utf-8", r.Header.Get("Content-Type"))
	require.Equal(t, "pos-sync/2.0", r.Header.Get("User-Agent"))

	// Public parameters in the query, nothing else.
	require.ElementsMatch(t, []string{"access_token", "timestamp", "sign"}, slices.Collect(maps.Keys(r.Query)))
	require.Equal(t, testAccessToken, r.Query.Get("access_token"))
	require.Equal(t, strconv.FormatInt(clk.Peek().UnixMilli(), 10), r.Query.Get("timestamp"))
	// The sign verifies over the exact bytes sent, recomputed from the raw
	// request without Sign (rawSign), and with Sign over the parsed query.
	sent, want := rawSign(t, r.RawQuery, r.Body, testAppSecret)
	require.Equal(t, want, sent)
	require.Equal(t, Sign(r.Query, r.Body, testAppSecret), sent)
	// Changing one byte of the body breaks it: the sign covers the body.
	_, other := rawSign(t, r.RawQuery, bytes.Replace(r.Body, []byte("12.5"), []byte("12.6"), 1), testAppSecret)
	require.NotEqual(t, other, sent)
}

func TestTokenCallCarriesAppIDAndNoBody(t *testing.T) {
	c, m := mockSetup(t, NewMemoryTokenStore())
	m.reply(epRead.method, `{"success":true,"data":null}`)
	_, _, err := call[*echoOut](context.Background(), c, &epRead, map[string]int{}, "")
	require.NoError(t, err)
	obt := m.requests(epObtain.method)
	require.Len(t, obt, 1)
	require.Equal(t, testAppID, obt[0].Query.Get("app_id"))
	require.Empty(t, obt[0].Query.Get("access_token"))
	require.Empty(t, obt[0].Body)
	require.Equal(t, md5Hex("app_id"+testAppID+"timestamp"+obt[0].Query.Get("timestamp")+testAppSecret), obt[0].Query.Get("sign"))
	// The business call used the token just obtained.
	require.True(t, strings.HasPrefix(m.requests(epRead.method)[0].Query.Get("access_token"), "at-obt-"))
}

func TestRetryRestampsEveryAttempt(t *testing.T) {
	clk := newStepClock(time.Now(), 250*time.Millisecond)
	// The stub's Date header comes from the real clock, which this fake
	// clock outruns by design: measuring it would move the stamps this test
	// compares, so correction is off here (clock_test.go covers it).
	c, g := setup(t, WithClock(clk.Now), WithClockSkewCorrection(false))
	g.now = clk.Peek // the gateway checks freshness against the fake clock
	var n atomic.Int32
	g.handle(epRead.method, func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) <= 2 {
			_, _ = io.WriteString(w, `{"success":false,"error_code":500,"error_message":"系统繁忙, 请稍后再试"}`)
			return
		}
		_, _ = io.WriteString(w, `{"success":true,"data":{"code":"3733288246799497770","name":"券"}}`)
	})
	got, _, err := call[echoOut](context.Background(), c, &epRead, map[string]string{"coupon": "<x>&"}, "")
	require.NoError(t, err)
	require.Equal(t, int64(3733288246799497770), int64(got.Code))

	calls := g.calls()
	require.Len(t, calls, 3)
	var stamps []int64
	for _, r := range calls {
		ts, err := strconv.ParseInt(r.Query.Get("timestamp"), 10, 64)
		require.NoError(t, err)
		stamps = append(stamps, ts)
		require.Equal(t, Sign(r.Query, r.Body, testAppSecret), r.Query.Get("sign"), "each attempt signed for its own timestamp")
		require.Equal(t, calls[0].Body, r.Body, "byte-identical bodies")
		require.Equal(t, []string{r.Query.Get("sign")}, r.Query["sign"], "exactly one sign")
	}
	require.Less(t, stamps[0], stamps[1])
	require.Less(t, stamps[1], stamps[2])
	require.NotEqual(t, calls[0].Query.Get("sign"), calls[1].Query.Get("sign"))
	require.Equal(t, `{"coupon":"<x>&"}`, string(calls[0].Body))
}

func TestBusyIsNotRepeatedForNonIdempotentCalls(t *testing.T) {
	c, m := mockSetup(t, nil)
	m.reply(epWrite.method, `{"success":false,"error_code":500,"error_message":"系统繁忙, 请稍后再试"}`)
	_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"a": "b"}, "")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.True(t, errors.Is(err, ErrSystemBusy))
	require.False(t, errors.Is(err, ErrOutcomeUnknown), "a definite answer is not an unknown outcome")
	require.Equal(t, "系统繁忙, 请稍后再试", apiErr.Message)
	require.Equal(t, 1, m.count(epWrite.method))
}

func TestBusyIsRepeatedForIdempotentCallsUpToMaxAttempts(t *testing.T) {
	c, m := mockSetup(t, nil)
	m.reply(epRead.method, `{"success":false,"error_code":500}`)
	_, _, err := call[echoOut](context.Background(), c, &epRead, map[string]string{}, "")
	require.True(t, errors.Is(err, ErrSystemBusy))
	require.Equal(t, 3, m.count(epRead.method))
}

func TestRetryOffWithOneAttempt(t *testing.T) {
	c, m := mockSetup(t, nil, WithRetry(RetryPolicy{MaxAttempts: 1}))
	m.reply(epRead.method, `{"success":false,"error_code":500}`)
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
	require.True(t, errors.Is(err, ErrSystemBusy))
	require.Equal(t, 1, m.count(epRead.method))
}

func TestDroppedConnection(t *testing.T) {
	t.Run("non-idempotent: outcome unknown, one request", func(t *testing.T) {
		c, g := setup(t)
		g.handle(epWrite.method, hangUp(t))
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"}, "")
		var unknown *OutcomeUnknownError
		require.ErrorAs(t, err, &unknown)
		require.True(t, errors.Is(err, ErrOutcomeUnknown))
		require.Equal(t, epWrite.method, unknown.Method)
		var terr *TransportError
		require.ErrorAs(t, err, &terr, "the cause is kept")
		require.Len(t, g.calls(), 1)
	})
	t.Run("idempotent: repeated", func(t *testing.T) {
		c, g := setup(t)
		var n atomic.Int32
		hang := hangUp(t)
		g.handle(epRead.method, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				hang(w, r)
				return
			}
			_, _ = io.WriteString(w, `{"success":true,"data":{"code":7}}`)
		})
		got, _, err := call[echoOut](context.Background(), c, &epRead, map[string]string{}, "")
		require.NoError(t, err)
		require.Equal(t, wire.Int64(7), got.Code)
		require.Len(t, g.calls(), 2)
		require.Equal(t, g.calls()[0].Body, g.calls()[1].Body)
	})
}

func TestDialErrorsAreRepeatedForEveryCall(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now

	var dials atomic.Int32
	d := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return d.DialContext(ctx, network, a)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewClient(testAppID, testAppSecret, WithBaseURL("http://"+addr), WithHTTPClient(&http.Client{Transport: tr}),
		WithTokenStore(storeWith(t, Token{AccessToken: testAccessToken, RefreshToken: testRefreshToken,
			AccessExpiresAt: time.Now().Add(time.Hour), RefreshExpiresAt: time.Now().Add(time.Hour)})),
		WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	require.NoError(t, err)

	_, _, err = call[echoOut](context.Background(), c, &epWrite, map[string]string{}, "")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrOutcomeUnknown), "a refused dial never reached the gateway: %v", err)
	var terr *TransportError
	require.ErrorAs(t, err, &terr)
	require.EqualValues(t, 3, dials.Load(), "a non-idempotent call is repeated when nothing was sent")
	require.NotContains(t, err.Error(), testAccessToken)
	require.NotContains(t, err.Error(), "sign=")
}

func TestHTMLErrorPage(t *testing.T) {
	page := "<html><head><title>502 Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1>" +
		"<p>/gw/gateway/wk.test.read/v1?access_token=" + testAccessToken + "&timestamp=1&sign=0123456789abcdef0123456789abcdef</p>" +
		"<p>13800001234</p><hr>nginx</body></html>"
	bad := func(wireReq, int) (*http.Response, error) {
		r := httpmock.NewStringResponse(http.StatusBadGateway, page)
		r.Header.Set("Content-Type", "text/html")
		return r, nil
	}
	t.Run("idempotent: repeated, then a ResponseError", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.route(epRead.method, bad)
		_, _, err := call[echoOut](context.Background(), c, &epRead, map[string]string{}, "")
		var rerr *ResponseError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, epRead.method, rerr.Method)
		require.Equal(t, http.StatusBadGateway, rerr.HTTPStatus)
		require.Contains(t, rerr.Sample, "502 Bad Gateway")
		msg := err.Error()
		require.Contains(t, msg, epRead.method)
		require.Contains(t, msg, "502")
		for _, leak := range []string{testAccessToken, "0123456789abcdef0123456789abcdef", "13800001234", testAppSecret} {
			require.NotContains(t, msg, leak)
			require.NotContains(t, rerr.Sample, leak)
		}
		require.Equal(t, 3, m.count(epRead.method))
	})
	t.Run("non-idempotent: outcome unknown wrapping the ResponseError", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.route(epWrite.method, bad)
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{}, "")
		require.True(t, errors.Is(err, ErrOutcomeUnknown))
		var rerr *ResponseError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, http.StatusBadGateway, rerr.HTTPStatus)
		require.Equal(t, 1, m.count(epWrite.method))
	})
	t.Run("4xx page: a definite failure", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.route(epWrite.method, func(wireReq, int) (*http.Response, error) {
			return httpmock.NewStringResponse(http.StatusNotFound, "<html>404</html>"), nil
		})
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{}, "")
		var rerr *ResponseError
		require.ErrorAs(t, err, &rerr)
		require.False(t, errors.Is(err, ErrOutcomeUnknown))
		require.Equal(t, 1, m.count(epWrite.method))
	})
}

func TestOversizedAnswer(t *testing.T) {
	c, m := mockSetup(t, nil, WithMaxResponseBytes(2048))
	m.reply(epRead.method, `{"success":true,"data":{"name":"`+strings.Repeat("x", 4096)+`"}}`)
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
	var rerr *ResponseError
	require.ErrorAs(t, err, &rerr)
	require.Contains(t, err.Error(), "2048")
}

func TestContextDeadline(t *testing.T) {
	for _, ep := range []*endpoint{&epRead, &epWrite} {
		t.Run(ep.method, func(t *testing.T) {
			c, g := setup(t)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			g.handle(ep.method, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-release:
				}
			})
			// Long enough for the request to reach the gateway on a loaded
			// machine (the handler holds it until the deadline anyway).
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, _, err := call[echoOut](ctx, c, ep, map[string]string{"phone": "13800001234"}, "")
			require.Error(t, err)
			require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
			msg := err.Error()
			for _, leak := range []string{testAccessToken, "sign", "timestamp=", "http://", "127.0.0.1", "/gw/gateway/"} {
				require.NotContains(t, msg, leak)
			}
			require.Len(t, g.calls(), 1, "the deadline also ends the retries")
			if !ep.retry.repeatsAmbiguous() {
				require.True(t, errors.Is(err, ErrOutcomeUnknown), "the request was sent: %v", err)
			}
		})
	}
}

func TestBackoffWaitEndsWithTheContext(t *testing.T) {
	long := RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The caller gives up just as the SDK starts waiting to retry.
	logger := slog.New(onMessage{Handler: slog.DiscardHandler, msg: "ump: retrying", f: cancel})
	c, m := mockSetup(t, nil, WithRetry(long), WithLogger(logger))
	m.reply(epRead.method, `{"success":false,"error_code":500,"error_message":"系统繁忙"}`)
	done := make(chan error, 1)
	go func() {
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the backoff wait did not end with the context")
	}
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	require.True(t, errors.Is(err, ErrSystemBusy), "the last failure is kept: %v", err)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 1, m.count(epRead.method))
}

func TestCancelledContextSendsNothing(t *testing.T) {
	c, m := mockSetup(t, nil)
	m.reply(epWrite.method, `{"success":true}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := call[echoOut](ctx, c, &epWrite, map[string]string{}, "")
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	require.False(t, errors.Is(err, ErrOutcomeUnknown), "nothing was sent: %v", err)
	require.Equal(t, 0, m.total())
}

func TestAnswers(t *testing.T) {
	t.Run("19-digit integer, numbers as strings, paging at the top level", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epRead.method, `{"success":"true","error_code":"200","data":[{"code":"3733288246799497770","name":12},{"code":3733288246799497771,"name":"b"}],"pageNo":"2","pageSize":"2","totalCount":"5"}`)
		got, pg, err := call[[]echoOut](context.Background(), c, &epRead, map[string]any{"code": wire.Int64(3733288246799497770)}, "")
		require.NoError(t, err)
		require.Equal(t, []echoOut{{Code: 3733288246799497770, Name: "12"}, {Code: 3733288246799497771, Name: "b"}}, got)
		require.Equal(t, wire.Page{PageNo: 2, PageSize: 2, TotalCount: 5}, pg)
		require.Equal(t, `{"code":3733288246799497770}`, string(m.requests(epRead.method)[0].Body), "sent as an exact number")
	})
	t.Run("data null", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epRead.method, `{"success":true,"error_code":200,"error_message":null,"data":null}`)
		got, pg, err := call[*echoOut](context.Background(), c, &epRead, nil, "")
		require.NoError(t, err)
		require.Nil(t, got)
		require.Equal(t, wire.Page{}, pg)
	})
	t.Run("success whose data does not decode", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epRead.method, `{"success":true,"data":{"code":"twelve"}}`)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		var rerr *ResponseError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, 1, m.count(epRead.method), "a definite answer is not repeated")
	})
	t.Run("error whose data has another shape", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epRead.method, `{"success":false,"error_code":1001,"error_message":"请求参数不合法","data":"phone"}`)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrInvalidParameters), "%v", err)
	})
}

func TestBlankAnswers(t *testing.T) {
	epBlank := endpoint{method: "wk.test.sms", blankIsSuccess: true}
	cases := []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"empty body, 200", 200, "", true},
		{"{} with 200", 200, "{}", true},
		{"data only", 200, `{"data":null}`, true},
		{"explicit success false", 200, `{"success":false}`, false},
		{"explicit success false as string", 200, `{"success":"false","data":null}`, false},
		{"empty body, 500", 500, "", false},
		{"{} with 500", 500, "{}", false},
		{"code given", 200, `{"error_code":140004,"error_message":"超出每天最大发送次数"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, m := mockSetup(t, nil)
			m.route(epBlank.method, func(wireReq, int) (*http.Response, error) { return jsonResponse(tc.status, tc.body), nil })
			_, _, err := call[struct{}](context.Background(), c, &epBlank, map[string]string{}, "")
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
	t.Run("other calls: {} is not success", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epWrite.method, `{}`)
		_, _, err := call[struct{}](context.Background(), c, &epWrite, map[string]string{}, "")
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
	})
}

// TestNoGoroutineOutlivesACall: calls, retries, renewals and a wait for
// another process's lease leave nothing running behind them.
func TestNoGoroutineOutlivesACall(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	c, m := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)))
	m.sequence(epRead.method, answer200(`{"success":false,"error_code":500}`), answer200(`{"success":true,"data":{}}`))
	_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
	require.NoError(t, err)
	dctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	<-dctx.Done()
	_, _, err = call[echoOut](dctx, c, &epRead, nil, "")
	require.Error(t, err)
}

// A rejection that a new token does not cure (a proxy's 401, a code set with
// WithTokenInvalidCodes that is not about the token) must not spend one of
// the day's 20 refreshes per call: the token a recovery produced is not
// refreshed again while it is young.
func TestRejectionsANewTokenDoesNotCureSpendOneRefresh(t *testing.T) {
	c, m := mockSetup(t, nil)
	m.route(epWrite.method, func(wireReq, int) (*http.Response, error) {
		return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_message":"unauthorized"}`), nil
	})
	for range 25 {
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"}, "")
		require.ErrorIs(t, err, ErrTokenInvalid)
	}
	require.Equal(t, 1, m.count(epRefresh.method), "refreshes after 25 rejected calls")
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Refreshes)
}

// A business call that never left because the refresh's answer was lost is
// not sent: it must not read as an unknown outcome of the business call.
func TestLostRefreshAnswerLeavesTheCallNotSent(t *testing.T) {
	c, m := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)))
	m.route(epRefresh.method, func(wireReq, int) (*http.Response, error) {
		return nil, errors.New("connection reset by peer")
	})
	_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"}, "order_no=A1")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Contains(t, err.Error(), "not sent, no access token")
	require.Zero(t, m.count(epWrite.method))
}

// An oversized answer is redacted whole before its sample is cut, so a
// secret straddling the cut cannot show in part.
func TestOversizedAnswerSampleShowsNoPartOfASecret(t *testing.T) {
	c, g := setup(t, WithMaxResponseBytes(1024))
	g.handle(epRead.method, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat(" ", 500)+"echo:"+testAppSecret+strings.Repeat(" ", 2000))
	})
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.NotContains(t, err.Error(), testAppSecret[:7])
}

// TestSharedPathSignsAndDecodes drives one call through the shared path: the
// gateway helper verifies the sign and timestamp, and the data decodes.
func TestSharedPathSignsAndDecodes(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.test.echo", `{"success":true,"error_code":200,"data":{"n":"9007199254740993"}}`)
	type out struct {
		N int64 `json:"n,string"`
	}
	ep := endpoint{method: "wk.test.echo", retry: retrySafe}
	got, _, err := call[out](context.Background(), c, &ep, map[string]string{"q": "<&>"}, "")
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), got.N)
	require.Equal(t, `{"q":"<&>"}`, string(g.calls()[0].Body), "body sent without HTML escaping")
	require.Equal(t, testAccessToken, g.calls()[0].Query.Get("access_token"))
}
