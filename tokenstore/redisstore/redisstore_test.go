package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/internal/fleettest"
	"github.com/greedc/ump-go/tokenstore/redisstore"
	"github.com/greedc/ump-go/tokenstore/storetest"
	"github.com/greedc/ump-go/umptest"
)

// appID is the app of every test: the one umptest serves.
const appID = umptest.DefaultAppID

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// spendOf is a spend of kind on day with a fresh nonce.
func spendOf(kind ump.TokenCall, day string) ump.TokenSpend {
	return ump.TokenSpend{Kind: kind, Day: day, Nonce: ump.LeaseID(), At: time.Now(), By: "test/1"}
}

func TestContract(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	var n atomic.Int32
	storetest.Run(t, func(*testing.T) ump.TokenStore {
		// One server, a fresh key space per subtest.
		return redisstore.New(rdb, redisstore.WithPrefix(fmt.Sprintf("contract%d:", n.Add(1))))
	})
}

func TestKeysAndTTLs(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb)
	app := appID

	_, _, err := s.Spend(ctx(t), app, spendOf(ump.TokenRefresh, "2025-01-02"), 20)
	require.NoError(t, err)
	ttl, err := rdb.PTTL(ctx(t), "ump:token:{"+app+"}:day:2025-01-02").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 47*time.Hour, "the day's counts outlive the day")
	require.LessOrEqual(t, ttl, redisstore.CountTTL)

	release, err := s.Lease(ctx(t), app, 30*time.Second)
	require.NoError(t, err)
	ttl, err = rdb.PTTL(ctx(t), "ump:token:{"+app+"}:lease").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, 25*time.Second)
	require.LessOrEqual(t, ttl, 30*time.Second)
	require.NoError(t, release(ctx(t)))
	n, err := rdb.Exists(ctx(t), "ump:token:{"+app+"}:lease").Result()
	require.NoError(t, err)
	require.Zero(t, n)

	_, err = s.CompareAndSwap(ctx(t), app, 0, ump.Token{AccessToken: "a", RefreshToken: "r"})
	require.NoError(t, err)
	v, err := rdb.HGet(ctx(t), "ump:token:{"+app+"}", "version").Result()
	require.NoError(t, err)
	require.Equal(t, "1", v)
	ttl, err = rdb.PTTL(ctx(t), "ump:token:{"+app+"}").Result()
	require.NoError(t, err)
	require.Equal(t, time.Duration(-1), ttl, "the record must not expire: it holds the year-long refresh token")

	other := redisstore.New(rdb, redisstore.WithPrefix("staging:"))
	got, err := other.Load(ctx(t), app)
	require.NoError(t, err)
	require.Zero(t, got.Version, "prefixes keep environments apart")
}

func TestErrorsWrapRedis(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	s := redisstore.New(rdb)
	app := appID
	// A key of the wrong type: Redis answers WRONGTYPE.
	require.NoError(t, rdb.Set(ctx(t), "ump:token:{"+app+"}", "x", 0).Err())
	_, err := s.Load(ctx(t), app)
	var rerr redis.Error
	require.ErrorAs(t, err, &rerr)
	require.Contains(t, err.Error(), "WRONGTYPE")

	srv.Kill()
	_, _, err = s.Spend(ctx(t), app, spendOf(ump.TokenObtain, "2025-01-01"), 1)
	var nerr *net.OpError
	require.ErrorAs(t, err, &nerr, "the connection error is wrapped: %v", err)
	_, err = s.Lease(ctx(t), app, time.Second)
	require.ErrorAs(t, err, &nerr)
	require.False(t, errors.Is(err, ump.ErrLeaseHeld), "an unreachable store is not a held lease")
}

func TestCorruptRecordMakesNoObtain(t *testing.T) {
	for name, fields := range map[string][]string{
		"bad json":    {"version", "3", "token", `{"access_token": "at-secret`},
		"no version":  {"token", `{"access_token":"at-secret","refresh_token":"r"}`},
		"no token":    {"version", "3"},
		"empty token": {"version", "3", "token", `{}`},
	} {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := srv.Client(t)
			app := appID
			require.NoError(t, rdb.HSet(ctx(t), "ump:token:{"+app+"}", fields).Err())
			s := redisstore.New(rdb)
			_, err := s.Load(ctx(t), app)
			require.ErrorIs(t, err, redisstore.ErrCorrupt)
			require.NotContains(t, err.Error(), "at-secret")

			g := fleettest.Gateway(t, nil)
			c := fleettest.Client(g, s)
			_, err = c.Auth.AccessToken(ctx(t))
			require.ErrorIs(t, err, redisstore.ErrCorrupt)
			st := g.Stats()
			require.Zero(t, st.TokenObtains)
			require.Zero(t, st.TokenRefreshes)
		})
	}
}

// TestTwoClientsObtainOnce: two clients with their own Redis connections,
// as two processes have, start cold with many goroutines: one obtain.
func TestTwoClientsObtainOnce(t *testing.T) {
	srv := redistest.Start(t)
	g := fleettest.Gateway(t, nil)
	clients := []*ump.Client{
		fleettest.Client(g, redisstore.New(srv.Client(t))),
		fleettest.Client(g, redisstore.New(srv.Client(t))),
	}
	fleettest.RequireOneObtain(t, g, clients...)

	st, err := clients[0].Auth.Status(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 1, st.Obtains, "the obtain was counted in Redis")
	require.Equal(t, int64(1), st.Token.Version)
}

// dueIn is how far a fresh token's clock must move for the token to fall due
// for a proactive refresh (12 min before its 2 h expiry) without expiring.
const dueIn = 2*time.Hour - 11*time.Minute

// TestRedisRestart kills Redis mid-test and starts it again, empty, on the
// same port: the client keeps serving its in-memory token, also when the
// token falls due for renewal while Redis is away, and obtains nothing.
func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(time.Now())
	g := fleettest.Gateway(t, clk)
	c := fleettest.Client(g, redisstore.New(srv.Client(t)))

	tok, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	srv.Kill()
	got, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, tok, got)

	// Due for a proactive refresh, Redis still down: the store cannot be
	// read, so the working token is kept.
	clk.Advance(dueIn)
	for range 5 {
		got, err = c.Auth.AccessToken(ctx(t))
		require.NoError(t, err)
		require.Equal(t, tok, got)
	}

	srv.Restart()
	got, err = c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, tok, got)

	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains, "a Redis outage must never cost an obtain")
	require.Zero(t, st.TokenRefreshes)
}

// TestRedisLostRecordRefreshes: Redis came back empty (no persistence), and
// then the token falls due. The client still holds a refresh token that
// works, so it must refresh with it (and store the record again), never
// obtain: an obtain is allowed once a day, and Redis forgot that it was
// already spent today (and the gateway would refuse a second one).
func TestRedisLostRecordRefreshes(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(time.Now())
	g := fleettest.Gateway(t, clk)
	store := redisstore.New(srv.Client(t))
	c := fleettest.Client(g, store)
	tok, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	srv.Restart()
	clk.Advance(dueIn)
	got, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.NotEqual(t, tok, got, "the token was due")

	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains, "the SDK obtained although its in-memory refresh token works")
	require.Equal(t, 1, st.TokenRefreshes)
	rec, err := store.Load(ctx(t), appID)
	require.NoError(t, err)
	require.Equal(t, got, rec.AccessToken, "the refreshed record is stored again")
}

// TestProactiveRefreshOnce: two clients (two processes) share a clock and a
// store; when the token falls due, one refresh serves both.
func TestProactiveRefreshOnce(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(time.Now())
	g := fleettest.Gateway(t, clk)
	a := fleettest.Client(g, redisstore.New(srv.Client(t)))
	b := fleettest.Client(g, redisstore.New(srv.Client(t)))
	first, err := a.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	got, err := b.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, first, got)

	clk.Advance(dueIn)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			if _, err := c.Auth.AccessToken(ctx(t)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains)
	require.Equal(t, 1, st.TokenRefreshes, "the fleet refreshed a due token more than once")
	renewed, err := a.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.NotEqual(t, first, renewed)
	for _, c := range []*ump.Client{a, b} {
		fleettest.RequireServes(t, g, c, renewed)
	}
}

// TestHeadroomKeptInRedis: with the day's proactive refreshes spent (all
// but the headroom, counted in Redis by other processes), a due token is
// kept until it expires, and then renewed from the headroom.
func TestHeadroomKeptInRedis(t *testing.T) {
	srv := redistest.Start(t)
	// Noon in Beijing, so the advances below stay within one Beijing day.
	clk := umptest.NewClock(time.Date(2025, 3, 3, 4, 0, 0, 0, time.UTC))
	g := fleettest.Gateway(t, clk)
	store := redisstore.New(srv.Client(t))
	c := fleettest.Client(g, store)
	first, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	day := ump.BeijingDay(clk.Now())
	budget := ump.DefaultTokenBudget
	for range budget.RefreshesPerDay - budget.RefreshHeadroom {
		_, _, err := store.Spend(ctx(t), appID, spendOf(ump.TokenRefresh, day), ump.RefreshesPerDay)
		require.NoError(t, err)
	}
	clk.Advance(dueIn)
	got, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, first, got, "the due token is kept while the headroom is reserved")
	require.Zero(t, g.Stats().TokenRefreshes)

	clk.Advance(12 * time.Minute) // expired
	got, err = c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.NotEqual(t, first, got)
	require.Equal(t, 1, g.Stats().TokenRefreshes)
	d, err := store.Spent(ctx(t), appID, day)
	require.NoError(t, err)
	require.Equal(t, budget.RefreshesPerDay-budget.RefreshHeadroom+1, d.Count(ump.TokenRefresh))
}
