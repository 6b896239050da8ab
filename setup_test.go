package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/wire"
)

// Test credentials. The secret is long and unusual so that a leak into a log
// line or an error string is easy to find.
const (
	testAppID        = "wkb1ag2hdad7e6jw1r"
	testAppSecret    = "S3cr3t-App-Secret-For-Tests-0123456789"
	testAccessToken  = "atB1ABA5C50C41C5FEE3E911EC8020C32C"
	testRefreshToken = "rt5ED02D25F23917092218565B9DDAF657"
)

// gateway is a test server that checks every request the way the platform
// does (path, verb, sign over the exact query and body, fresh timestamp,
// access token) and routes it to a handler per gateway method.
type gateway struct {
	t      *testing.T
	server *httptest.Server
	now    func() time.Time

	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	requests []recorded
}

// recorded is one request as the gateway saw it.
type recorded struct {
	Method string // gateway method
	Query  url.Values
	Body   []byte
}

// setup starts a gateway and returns a client for it whose token store
// already holds a valid token, so tests of business calls make no token call.
func setup(t *testing.T, opts ...Option) (*Client, *gateway) {
	t.Helper()
	g := &gateway{t: t, handlers: map[string]http.HandlerFunc{}, now: time.Now}
	g.server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.server.Close)

	store := NewMemoryTokenStore()
	_, err := store.CompareAndSwap(context.Background(), testAppID, 0, Token{
		AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: time.Now().Add(2 * time.Hour), RefreshExpiresAt: time.Now().Add(300 * 24 * time.Hour),
	})
	require.NoError(t, err)
	base := []Option{WithBaseURL(g.server.URL), WithTokenStore(store),
		WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})}
	c, err := NewClient(testAppID, testAppSecret, append(base, opts...)...)
	require.NoError(t, err)
	return c, g
}

// handle routes a gateway method to h.
func (g *gateway) handle(method string, h http.HandlerFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handlers[method] = h
}

// reply routes a gateway method to a fixed JSON answer.
func (g *gateway) reply(method, body string) {
	g.handle(method, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	})
}

// calls returns the requests seen so far.
func (g *gateway) calls() []recorded {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]recorded(nil), g.requests...)
}

// lastBody decodes the body of the last request into a generic map, with
// numbers kept as json.Number so their wire type can be asserted.
func (g *gateway) lastBody() map[string]any {
	g.t.Helper()
	calls := g.calls()
	require.NotEmpty(g.t, calls, "no request reached the gateway")
	return decodeObject(g.t, calls[len(calls)-1].Body)
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytesReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&m), "body %s", b)
	return m
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	t := g.t
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("reading body: %v", err)
		return
	}
	const prefix, suffix = "/gw/gateway/", "/v1"
	path := r.URL.Path
	if len(path) <= len(prefix)+len(suffix) || path[:len(prefix)] != prefix || path[len(path)-len(suffix):] != suffix {
		t.Errorf("unexpected path %q", path)
		http.NotFound(w, r)
		return
	}
	method := path[len(prefix) : len(path)-len(suffix)]
	if r.Method != http.MethodPost {
		t.Errorf("%s: verb %s, want POST", method, r.Method)
	}
	q := r.URL.Query()
	if got, want := q.Get("sign"), Sign(q, body, testAppSecret); got != want {
		t.Errorf("%s: sign %q does not verify over the sent query and body (want %q)", method, got, want)
	}
	ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if err != nil {
		t.Errorf("%s: timestamp %q is not epoch milliseconds", method, q.Get("timestamp"))
	} else if d := g.now().Sub(time.UnixMilli(ms)); d > 3*time.Second || d < -3*time.Second {
		t.Errorf("%s: timestamp is %v off", method, d)
	}
	if len(body) > 0 && r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", method, r.Header.Get("Content-Type"))
	}
	g.mu.Lock()
	g.requests = append(g.requests, recorded{Method: method, Query: q, Body: body})
	h := g.handlers[method]
	g.mu.Unlock()
	if h == nil {
		t.Errorf("no handler for %s", method)
		http.Error(w, "no handler", http.StatusNotFound)
		return
	}
	// Give the handler the body again.
	r.Body = io.NopCloser(bytesReader(body))
	h(w, r)
}

// fixture returns testdata/name, the document's own example answers (syntax
// fixed only, docs/spec-notes.md#17).
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// requireValidation asserts err is a *ValidationError for method naming
// exactly the given fields (in any order).
func requireValidation(t *testing.T, err error, method string, fields ...string) *ValidationError {
	t.Helper()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, method, ve.Method)
	got := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		got[i] = f.Field
	}
	assert.ElementsMatch(t, fields, got, "bad fields: %v", err)
	return ve
}

// hangUp is a handler that reads the request and closes the connection
// without answering: the request reached the gateway, the outcome is unknown.
func hangUp(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	}
}

// ---- the transport-level fake: httpmock, for answers no server gives (a
// reset mid-answer, a dial failure) and exact control per attempt ----

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
