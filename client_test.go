package ump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/greedc/ump-go/internal/wire"
)

// ---- helpers shared by the foundation's tests ----

// stepClock is a fake clock that moves forward by step on every reading, so
// that each attempt of a call sees a later time.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newStepClock(start time.Time, step time.Duration) *stepClock {
	return &stepClock{t: start, step: step}
}

// Now reads the clock and moves it by step.
func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

// Peek reads the clock without moving it.
func (c *stepClock) Peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *stepClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// wireReq is one request exactly as it reached the mock transport.
type wireReq struct {
	Method   string // gateway method
	Verb     string
	RawQuery string
	Query    url.Values
	Header   http.Header
	Body     []byte
}

// mockResponder answers the n-th (from 1) request for one gateway method.
type mockResponder func(r wireReq, n int) (*http.Response, error)

// mockGW is an httpmock transport that plays the gateway: it verifies every
// request's sign independently of Sign, records it, and routes it by method.
type mockGW struct {
	t  *testing.T
	mt *httpmock.MockTransport

	mu     sync.Mutex
	reqs   []wireReq
	counts map[string]int
	routes map[string]mockResponder
	// tokens issued by the token routes, by method
	issued atomic.Int64
}

const mockBase = "http://ump.test"

var mockPath = regexp.MustCompile(`^http://ump\.test/gw/gateway/([^/]+)/v1`)

// mockSetup returns a client whose requests go to a mockGW through
// WithHTTPClient. A nil store gets one holding a valid token, as setup does.
func mockSetup(t *testing.T, store TokenStore, opts ...Option) (*Client, *mockGW) {
	t.Helper()
	m := &mockGW{t: t, mt: httpmock.NewMockTransport(), counts: map[string]int{}, routes: map[string]mockResponder{}}
	m.mt.RegisterRegexpResponder(http.MethodPost, mockPath, m.respond)
	if store == nil {
		store = storeWith(t, Token{
			AccessToken: testAccessToken, RefreshToken: testRefreshToken,
			AccessExpiresAt: time.Now().Add(2 * time.Hour), RefreshExpiresAt: time.Now().Add(300 * 24 * time.Hour),
		})
	}
	base := []Option{WithBaseURL(mockBase), WithHTTPClient(&http.Client{Transport: m.mt}), WithTokenStore(store),
		WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}
	c, err := NewClient(testAppID, testAppSecret, append(base, opts...)...)
	require.NoError(t, err)
	return c, m
}

// storeWith returns a memory store holding tok (none if tok is zero).
func storeWith(t *testing.T, tok Token) *MemoryTokenStore {
	t.Helper()
	st := NewMemoryTokenStore()
	if tok != (Token{}) {
		_, err := st.CompareAndSwap(context.Background(), testAppID, 0, tok)
		require.NoError(t, err)
	}
	return st
}

func (m *mockGW) route(method string, r mockResponder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[method] = r
}

// reply routes method to a fixed JSON answer with HTTP 200.
func (m *mockGW) reply(method, body string) {
	m.route(method, func(wireReq, int) (*http.Response, error) { return jsonResponse(200, body), nil })
}

// sequence routes method to answers in turn; the last one repeats.
func (m *mockGW) sequence(method string, answers ...mockResponder) {
	m.route(method, func(r wireReq, n int) (*http.Response, error) {
		return answers[min(n, len(answers))-1](r, n)
	})
}

func (m *mockGW) count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[method]
}

func (m *mockGW) requests(method string) []wireReq {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []wireReq
	for _, r := range m.reqs {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (m *mockGW) total() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.reqs)
}

func (m *mockGW) respond(req *http.Request) (*http.Response, error) {
	method := mockPath.FindStringSubmatch(req.URL.String())[1]
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	r := wireReq{Method: method, Verb: req.Method, RawQuery: req.URL.RawQuery, Query: req.URL.Query(), Header: req.Header.Clone(), Body: body}
	if sent, want := rawSign(m.t, r.RawQuery, body, testAppSecret); sent != want {
		m.t.Errorf("%s: sign %s does not verify over the raw query and body (want %s)", method, sent, want)
	}
	m.mu.Lock()
	m.reqs = append(m.reqs, r)
	m.counts[method]++
	n := m.counts[method]
	h := m.routes[method]
	m.mu.Unlock()
	if h == nil {
		switch method {
		case epObtain.method:
			return jsonResponse(200, m.tokenAnswer("obt", true, 7200)), nil
		case epRefresh.method:
			return jsonResponse(200, m.tokenAnswer("ref", false, 7200)), nil
		}
		m.t.Errorf("no route for %s", method)
		return jsonResponse(404, `{"success":false,"error_code":404}`), nil
	}
	return h(r, n)
}

// tokenAnswer returns a 2.1/2.2 answer with a new, unique access token.
func (m *mockGW) tokenAnswer(prefix string, withRefresh bool, expireIn int) string {
	n := m.issued.Add(1)
	at := fmt.Sprintf("at-%s-%03d-0123456789ABCDEF0123456", prefix, n)
	if !withRefresh {
		return fmt.Sprintf(`{"success":true,"data":{"access_token":%q,"expire_in":%d}}`, at, expireIn)
	}
	rt := fmt.Sprintf("rt-%s-%03d-0123456789ABCDEF0123456", prefix, n)
	return fmt.Sprintf(`{"success":true,"data":{"access_token":%q,"refresh_token":%q,"expire_in":%d}}`, at, rt, expireIn)
}

func jsonResponse(status int, body string) *http.Response {
	r := httpmock.NewStringResponse(status, body)
	r.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return r
}

func answer200(body string) mockResponder {
	return func(wireReq, int) (*http.Response, error) { return jsonResponse(200, body), nil }
}

// rawSign recomputes the sign from the raw query string and body without
// Sign: split, unescape, sort by name, concatenate, append body and secret.
func rawSign(t *testing.T, rawQuery string, body []byte, secret string) (sent, want string) {
	t.Helper()
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			t.Errorf("query %q does not unescape", rawQuery)
		}
		if k == "sign" {
			sent = v
			continue
		}
		pairs = append(pairs, kv{k, v})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
	var b strings.Builder
	for _, p := range pairs {
		b.WriteString(p.k + p.v)
	}
	b.Write(body)
	b.WriteString(secret)
	return sent, md5Hex(b.String())
}

var (
	epRead  = endpoint{method: "wk.test.read", retry: retrySafe}
	epWrite = endpoint{method: "wk.test.write"}
)

type echoOut struct {
	Code wire.Int64  `json:"code"`
	Name wire.String `json:"name"`
}

// ---- the request on the wire ----

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

// ---- retries ----

func TestRetryRestampsEveryAttempt(t *testing.T) {
	clk := newStepClock(time.Now(), 250*time.Millisecond)
	c, g := setup(t, WithClock(clk.Now))
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
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
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

// onMessage is a slog handler that runs f when a record with msg is logged.
type onMessage struct {
	slog.Handler
	msg string
	f   func()
}

func (h onMessage) Enabled(context.Context, slog.Level) bool { return true }

func (h onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.f()
	}
	return nil
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

// ---- answers ----

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

// ---- options ----

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

func TestRetryPolicyBackoff(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n := 1; n < 12; n++ {
		want := min(100*time.Millisecond<<(n-1), time.Second)
		for range 20 {
			d := p.backoff(n)
			require.GreaterOrEqual(t, d, want/2, "attempt %d", n)
			require.Less(t, d, want, "attempt %d", n)
		}
	}
	require.Equal(t, time.Duration(0), RetryPolicy{MaxAttempts: 2}.backoff(3))
}

// ---- pages ----

func TestPages(t *testing.T) {
	all := make([]int, 23)
	for i := range all {
		all[i] = i
	}
	// serve answers like a paged call through listPage: the gateway's
	// default size is 10, and without a pageSize field the page reports the
	// size it was asked for (0 when it was asked for none).
	serve := func(size int, pageSizeField bool, fetched *[]int) func(context.Context, PageRequest) (*Page[int], error) {
		return func(_ context.Context, req PageRequest) (*Page[int], error) {
			no := req.PageNo
			*fetched = append(*fetched, no)
			sz := size
			if sz <= 0 {
				sz = 10 // the gateway's default
			}
			lo, hi := min((no-1)*sz, len(all)), min(no*sz, len(all))
			p := &Page[int]{Items: all[lo:hi], PageNo: no, PageSize: req.PageSize, TotalCount: len(all)}
			if pageSizeField {
				p.PageSize = sz
			}
			return p, nil
		}
	}
	for _, tc := range []struct {
		name      string
		first     int
		size      int
		sizeField bool
		want      []int
		pages     []int
	}{
		{"explicit size", 1, 5, true, all, []int{1, 2, 3, 4, 5}},
		{"default size, reported", 0, 0, true, all, []int{1, 2, 3}},
		{"default size, not reported", 1, 0, false, all, []int{1, 2, 3}},
		{"from page 2", 2, 10, true, all[10:], []int{2, 3}},
		{"exact multiple stops on the count", 1, 23, true, all, []int{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fetched []int
			seq := allPages(context.Background(), PageRequest{PageNo: tc.first, PageSize: tc.size}, serve(tc.size, tc.sizeField, &fetched))
			var got []int
			for v, err := range seq {
				require.NoError(t, err)
				got = append(got, v)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, fetched)
			// The sequence can be walked again with the same result.
			fetched = nil
			got = got[:0]
			for v := range seq {
				got = append(got, v)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, fetched)
		})
	}
	t.Run("error ends the walk", func(t *testing.T) {
		boom := errors.New("boom")
		seq := allPages(context.Background(), PageRequest{PageNo: 1, PageSize: 5}, func(_ context.Context, req PageRequest) (*Page[int], error) {
			if req.PageNo == 2 {
				return nil, boom
			}
			return &Page[int]{Items: all[:5], TotalCount: 23}, nil
		})
		var n int
		var last error
		for _, err := range seq {
			n++
			last = err
		}
		require.Equal(t, 6, n)
		require.ErrorIs(t, last, boom)
	})
	t.Run("break stops fetching", func(t *testing.T) {
		var fetched []int
		for v := range allPages(context.Background(), PageRequest{PageNo: 1, PageSize: 5}, serve(5, true, &fetched)) {
			if v == 6 {
				break
			}
		}
		require.Equal(t, []int{1, 2}, fetched)
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
