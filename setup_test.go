package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
// fixed only, NOTES.md #17).
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
