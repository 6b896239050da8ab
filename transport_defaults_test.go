package ump

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connCountingGateway answers every member lookup with the document's
// example once hold lets it, and counts the connections it accepted and the
// requests it is serving at once.
type connCountingGateway struct {
	srv      *httptest.Server
	answer   []byte
	newConns atomic.Int64
	arrived  atomic.Int64 // requests received
	active   atomic.Int64
	peak     atomic.Int64 // most requests served at once
	served   atomic.Int64
	// hold, when set, is waited for before answering.
	hold func(*http.Request)
}

func newConnCountingGateway(t *testing.T, hold func(*http.Request)) *connCountingGateway {
	t.Helper()
	g := &connCountingGateway{answer: []byte(fixture(t, "member-get.json")), hold: hold}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		g.arrived.Add(1)
		n := g.active.Add(1)
		defer g.active.Add(-1)
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
		if g.hold != nil {
			g.hold(r)
		}
		g.served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.answer)
	}))
	g.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.newConns.Add(1)
		}
	}
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

// clientFor returns a client of g with a valid token stored and the SDK's
// default transport unless opts say otherwise.
func (g *connCountingGateway) clientFor(t *testing.T, opts ...Option) *Client {
	t.Helper()
	store := NewMemoryTokenStore()
	_, err := store.CompareAndSwap(context.Background(), testAppID, 0, Token{
		AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: time.Now().Add(2 * time.Hour), RefreshExpiresAt: time.Now().Add(300 * 24 * time.Hour),
	})
	require.NoError(t, err)
	c, err := NewClient(testAppID, testAppSecret, append([]Option{WithBaseURL(g.srv.URL), WithTokenStore(store)}, opts...)...)
	require.NoError(t, err)
	return c
}

// barrier holds every request until n are being held, then lets them all go:
// it makes n calls be in flight at once, so each needs its own connection.
type barrier struct {
	n       int64
	arrived atomic.Int64
	open    chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: int64(n), open: make(chan struct{})} }

func (b *barrier) wait(r *http.Request) {
	if b.arrived.Add(1) == b.n {
		close(b.open)
	}
	select {
	case <-b.open:
	case <-r.Context().Done():
	}
}

// burst makes n concurrent member lookups and returns their errors.
func burst(c *Client, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Member.Get(context.Background(), &MemberQuery{Phone: "15980944959"})
		}()
	}
	wg.Wait()
	return errs
}

// The default transport keeps every connection a peak opened: a second
// burst of 100 calls in flight at once reuses the first burst's 100
// connections. (The former pool of 64 idle connections opened 36 anew.)
func TestDefaultTransportKeepsAPeaksConnections(t *testing.T) {
	const callers = 100
	var current atomic.Pointer[barrier]
	current.Store(newBarrier(callers))
	g := newConnCountingGateway(t, func(r *http.Request) { current.Load().wait(r) })
	c := g.clientFor(t)

	for i, err := range burst(c, callers) {
		require.NoError(t, err, "first burst, call %d", i)
	}
	require.Equal(t, int64(callers), g.newConns.Load(), "connections for %d calls in flight", callers)

	current.Store(newBarrier(callers))
	for i, err := range burst(c, callers) {
		require.NoError(t, err, "second burst, call %d", i)
	}
	assert.Equal(t, int64(callers), g.newConns.Load(), "connections after a second burst of %d (want none new)", callers)
}

// WithMaxConnsPerHost bounds the connections: calls beyond the bound queue
// for a connection and all complete over the bounded set.
func TestMaxConnsPerHostQueuesCallersBeyondTheBound(t *testing.T) {
	const bound, callers = 3, 24
	g := newConnCountingGateway(t, nil)
	c := g.clientFor(t, WithMaxConnsPerHost(bound))

	for round := range 3 {
		for i, err := range burst(c, callers) {
			require.NoError(t, err, "round %d, call %d", round, i)
		}
	}
	assert.Equal(t, int64(3*callers), g.served.Load(), "requests served")
	assert.LessOrEqual(t, g.newConns.Load(), int64(bound), "connections opened")
	assert.LessOrEqual(t, g.peak.Load(), int64(bound), "requests served at once")
}

// A call queued behind the bound ends with its context and is never sent.
func TestMaxConnsPerHostQueuedCallEndsWithItsContext(t *testing.T) {
	release := make(chan struct{})
	held := make(chan struct{}, 2)
	g := newConnCountingGateway(t, func(r *http.Request) {
		held <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c := g.clientFor(t, WithMaxConnsPerHost(2), WithRetry(RetryPolicy{MaxAttempts: 1}))

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 { // take both connections
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.Member.Get(context.Background(), &MemberQuery{Phone: "15980944959"})
		}()
	}
	<-held
	<-held

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Member.Get(ctx, &MemberQuery{Phone: "15980944959"})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	// A call the SDK never repeats cannot tell a wait for a connection
	// from a lost answer: its outcome reads as unknown (documented on
	// WithMaxConnsPerHost), although nothing was sent.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Member.Create(ctx, &CreateMemberRequest{ProjectID: "18756", Nickname: "n", Phone: "13800000000"})
	var unknown *OutcomeUnknownError
	require.ErrorAs(t, err, &unknown)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int64(2), g.arrived.Load(), "requests that reached the gateway while both connections were held")

	close(release)
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "call %d holding a connection", i)
	}
	assert.Equal(t, int64(2), g.newConns.Load(), "connections opened")
}

func TestDefaultTransportSettings(t *testing.T) {
	transportOf := func(c *Client) *http.Transport {
		tr, ok := c.rc.GetClient().Transport.(*http.Transport)
		require.True(t, ok, "transport %T", c.rc.GetClient().Transport)
		return tr
	}

	c, err := NewClient(testAppID, testAppSecret)
	require.NoError(t, err)
	tr := transportOf(c)
	assert.Equal(t, 0, tr.MaxConnsPerHost, "MaxConnsPerHost")
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 1<<20, "MaxIdleConnsPerHost")
	assert.Equal(t, 0, tr.MaxIdleConns, "MaxIdleConns")
	assert.True(t, tr.ForceAttemptHTTP2, "ForceAttemptHTTP2")
	assert.NotNil(t, tr.Proxy, "Proxy from the environment")
	assert.Equal(t, http.DefaultTransport.(*http.Transport).IdleConnTimeout, tr.IdleConnTimeout, "IdleConnTimeout")
	assert.Equal(t, http.DefaultTransport.(*http.Transport).TLSHandshakeTimeout, tr.TLSHandshakeTimeout, "TLSHandshakeTimeout")

	c, err = NewClient(testAppID, testAppSecret, WithMaxConnsPerHost(8))
	require.NoError(t, err)
	tr = transportOf(c)
	assert.Equal(t, 8, tr.MaxConnsPerHost, "MaxConnsPerHost")
	assert.Equal(t, 8, tr.MaxIdleConnsPerHost, "MaxIdleConnsPerHost")
	assert.True(t, tr.ForceAttemptHTTP2, "ForceAttemptHTTP2")

	// WithHTTPClient's transport is used as it is.
	own := &http.Transport{MaxIdleConnsPerHost: 5}
	c, err = NewClient(testAppID, testAppSecret, WithHTTPClient(&http.Client{Transport: own}))
	require.NoError(t, err)
	assert.Same(t, own, c.rc.GetClient().Transport)
	assert.Equal(t, 5, own.MaxIdleConnsPerHost)
}

func TestWithMaxConnsPerHostRefusesBadUse(t *testing.T) {
	for _, n := range []int{0, -1} {
		_, err := NewClient(testAppID, testAppSecret, WithMaxConnsPerHost(n))
		assert.ErrorContains(t, err, "WithMaxConnsPerHost", "n=%d", n)
	}
	hc := &http.Client{}
	for name, opts := range map[string][]Option{
		"after WithHTTPClient":  {WithHTTPClient(hc), WithMaxConnsPerHost(4)},
		"before WithHTTPClient": {WithMaxConnsPerHost(4), WithHTTPClient(hc)},
	} {
		_, err := NewClient(testAppID, testAppSecret, opts...)
		assert.ErrorContains(t, err, "WithMaxConnsPerHost", name)
	}
}

// The default transport speaks HTTP/2 to a gateway that offers it (TLS with
// ALPN "h2"), as http.DefaultTransport does: setting the pool sizes must not
// turn it off.
func TestDefaultTransportUsesHTTP2WhenOffered(t *testing.T) {
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	tr := defaultHTTPTransport(0)
	// Trust the test server as the system roots would trust the gateway;
	// net/http still configures HTTP/2 because ForceAttemptHTTP2 is set.
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, "HTTP/2.0", proto.Load())
	assert.Equal(t, 2, resp.ProtoMajor)
}
