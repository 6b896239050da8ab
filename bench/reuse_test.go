package bench_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
)

// gatewayStub is a gateway for the tests below: it checks the sign of every
// request, answers the token refresh (2.2) with newToken and the member
// lookup with the document's example, and counts what it saw.
type gatewayStub struct {
	srv      *httptest.Server
	answer   []byte
	newToken string

	refreshes   atomic.Int64 // 2.2 calls
	stale       atomic.Int64 // member lookups with any token but newToken
	badSign     atomic.Int64
	newConns    atomic.Int64 // connections accepted
	lookupsSeen atomic.Int64
}

func newGatewayStub(t *testing.T) *gatewayStub {
	g := &gatewayStub{answer: memberAnswer(t), newToken: "atNEW0123456789ABCDEF0123456789AB"}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			g.newConns.Add(1)
		}
	}
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gatewayStub) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	q := r.URL.Query()
	if q.Get("sign") != ump.Sign(q, body, appSecret) {
		g.badSign.Add(1)
		http.Error(w, "bad sign", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasSuffix(r.URL.Path, "/dss.auth.token.refresh/v1"):
		g.refreshes.Add(1)
		time.Sleep(2 * time.Millisecond) // let the other callers pile up behind the renewal
		_, _ = io.WriteString(w, `{"success":true,"data":{"access_token":"`+g.newToken+`","expire_in":7200}}`)
	case strings.HasSuffix(r.URL.Path, "/wk.user.info.query/v1"):
		g.lookupsSeen.Add(1)
		if q.Get("access_token") != g.newToken && q.Get("access_token") != accessToken {
			g.stale.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"success":false,"errorCode":401,"errorMessage":"token expired"}`)
			return
		}
		_, _ = w.Write(g.answer)
	default:
		http.NotFound(w, r)
	}
}

// An expired access token met by 1,000 concurrent calls is refreshed exactly
// once: the platform allows 20 refreshes a day, so a burst of traffic must
// not spend them.
func TestExpiredTokenRefreshedOnceForManyCallers(t *testing.T) {
	g := newGatewayStub(t)
	now := time.Now()
	expired := ump.Token{
		AccessToken: "atEXPIRED0123456789ABCDEF01234567", RefreshToken: refreshToken,
		AccessExpiresAt: now.Add(-time.Minute), RefreshExpiresAt: now.Add(300 * 24 * time.Hour),
	}
	c := newSDK(t, g.srv.URL, newHTTPTransport(), expired)

	const callers = 1000
	start := make(chan struct{})
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = c.Member.Get(context.Background(), &ump.MemberQuery{Phone: phone})
		}()
	}
	close(start)
	wg.Wait()

	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
	assert.Equal(t, int64(1), g.refreshes.Load(), "refreshes")
	assert.Equal(t, int64(0), g.stale.Load(), "lookups sent with the expired token")
	assert.Equal(t, int64(0), g.badSign.Load(), "requests with a bad sign")
	// A loaded machine may reset a few of the 1,000 connections; the lookup
	// is a read and is sent again, which is fine: no lookup is lost.
	assert.GreaterOrEqual(t, g.lookupsSeen.Load(), int64(callers), "lookups")
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Refreshes, "refreshes counted against the day's budget")
}

// 10,000 sequential calls use one connection and leave no goroutine behind:
// one http.Transport, every answer read to the end and closed. A leak here
// would exhaust a POS terminal's sockets within a day.
func TestSequentialCallsReuseOneConnection(t *testing.T) {
	g := newGatewayStub(t)
	c := newSDK(t, g.srv.URL, newHTTPTransport(), validToken())
	ctx := context.Background()

	// The first call dials and starts the connection's goroutines.
	_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
	require.NoError(t, err)
	before := runtime.NumGoroutine()

	const calls = 10000
	for i := range calls {
		m, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
		require.NoError(t, err, "call %d", i)
		require.Equal(t, "58500000003", m.UserNum)
	}

	// One connection carries them all; net/http may dial a spare when the
	// next request starts before the connection's reader has put it back in
	// the idle pool (a loaded machine), so a few are no leak. A leak opens
	// one per call.
	assert.LessOrEqual(t, g.newConns.Load(), int64(3), "connections opened for %d sequential calls", calls+1)
	assert.Equal(t, int64(0), g.badSign.Load(), "requests with a bad sign")
	const slack = 2
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(time.Second); after > before+slack && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond) // let goroutines that are finishing exit
		after = runtime.NumGoroutine()
	}
	assert.LessOrEqual(t, after, before+slack, "goroutines before %d, after %d", before, after)
}

// The floor does the same work as the SDK: its requests pass the gateway's
// sign check and it returns the same member. Without this the ratios would
// compare unlike things.
func TestFloorMatchesSDK(t *testing.T) {
	g := newGatewayStub(t)
	ctx := context.Background()
	sdk := newSDK(t, g.srv.URL, newHTTPTransport(), validToken())
	floor := newFloor(g.srv.URL, newHTTPTransport())

	want, err := sdk.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
	require.NoError(t, err)
	got, err := floor.getMember(ctx, floorQuery{Phone: phone})
	require.NoError(t, err)
	assert.Equal(t, int64(0), g.badSign.Load(), "requests with a bad sign")
	assert.Equal(t, want, got)
	assert.Equal(t, "18756", got.ProjectID)
	assert.Equal(t, "1994-09-28", got.Birthday.Format("2006-01-02"))

	d, err := decodeFloor(g.answer)
	require.NoError(t, err)
	assert.Equal(t, want, d)
}
