package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/redisstore"
)

// Redis stalled past the client's read timeout: go-redis sends the command
// again on another connection while the first copy waits in Redis, so both
// run. The store's scripts must land the same way twice. The read timeout is
// lowered to 500 ms and the stall to 1.5 s to keep the tests fast; the
// retries are go-redis's own (MaxRetries raised from 3 to 5 so that the
// copies outlast the stall whatever the backoff draws).

// stallClient is a client whose read timeout a 1.5 s stall exceeds, with
// idle connections ready, as a busy service's pool has: go-redis resends a
// timed-out command on one of them (a resend that must first open a
// connection fails in the handshake instead, which proves nothing).
func stallClient(t *testing.T, srv *redistest.Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 500 * time.Millisecond, MaxRetries: 5})
	t.Cleanup(func() { _ = rdb.Close() })
	// Six commands blocked at once hold (and set up) six connections.
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rdb.Do(ctx(t), "BLPOP", "no-such-list", "0.1").Err()
		}()
	}
	wg.Wait()
	return rdb
}

// stall makes Redis sleep 1.5 s (DEBUG SLEEP from another connection) and
// returns once it is asleep: a probe's PING no longer answers.
func stall(t *testing.T, srv *redistest.Server) {
	t.Helper()
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 10 * time.Second, MaxRetries: -1})
	probe := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = admin.Close(); _ = probe.Close() })
	require.NoError(t, admin.Ping(ctx(t)).Err())
	require.NoError(t, probe.Ping(ctx(t)).Err())
	slept := make(chan error, 1)
	go func() { slept <- admin.Do(context.Background(), "DEBUG", "SLEEP", "1.5").Err() }()
	t.Cleanup(func() { require.NoError(t, <-slept) })
	for probe.Ping(ctx(t)).Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// evalCalls returns how many scripts Redis has run (EVALSHA and EVAL).
func evalCalls(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(ctx(t), "commandstats").Result()
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(info, "\n") {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), cmd); ok {
				v, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
				require.NoError(t, err)
				n += v
			}
		}
	}
	return n
}

// underStall runs op while Redis is stalled and requires that go-redis sent
// it more than once, so that the test shows what it claims.
func underStall(t *testing.T, srv *redistest.Server, op func() error) {
	t.Helper()
	counter := srv.Client(t)
	before := evalCalls(t, counter)
	stall(t, srv)
	require.NoError(t, op())
	require.Greater(t, evalCalls(t, counter)-before, 1, "go-redis did not resend the script: the stall proved nothing")
}

func TestStalledSpendCountsOnce(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(stallClient(t, srv))
	day := "2025-01-01"
	// Load the script, so the stalled call is one EVALSHA.
	_, _, err := s.Spend(ctx(t), "warm-up", spendOf(ump.TokenRefresh, day), 20)
	require.NoError(t, err)

	sp := spendOf(ump.TokenObtain, day)
	underStall(t, srv, func() error {
		d, counted, err := s.Spend(ctx(t), appID, sp, 1)
		if err == nil && (!counted || d.Count(ump.TokenObtain) != 1) {
			return errors.New("the stalled spend was not counted exactly once")
		}
		return err
	})
	d, err := s.Spent(ctx(t), appID, day)
	require.NoError(t, err)
	require.Equal(t, 1, d.Count(ump.TokenObtain), "the spend counted once although it ran twice")
	require.True(t, d.Has(sp.Nonce))
}

func TestStalledLeaseIsHeld(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(stallClient(t, srv))
	release, err := s.Lease(ctx(t), "warm-up", time.Minute)
	require.NoError(t, err)
	require.NoError(t, release(ctx(t)))

	underStall(t, srv, func() error {
		release, err = s.Lease(ctx(t), appID, time.Minute)
		return err // ErrLeaseHeld here is the false "held elsewhere"
	})
	_, err = redisstore.New(srv.Client(t)).Lease(ctx(t), appID, time.Minute)
	require.ErrorIs(t, err, ump.ErrLeaseHeld, "the lease is really held")
	require.NoError(t, release(ctx(t)))
	release2, err := redisstore.New(srv.Client(t)).Lease(ctx(t), appID, time.Minute)
	require.NoError(t, err, "the holder released it")
	require.NoError(t, release2(ctx(t)))
}

func TestStalledSwapSucceeds(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(stallClient(t, srv))
	_, err := s.CompareAndSwap(ctx(t), "warm-up", 0, ump.Token{AccessToken: "a", RefreshToken: "r"})
	require.NoError(t, err)

	tok := ump.Token{AccessToken: "at-stalled", RefreshToken: "rt-stalled", AccessExpiresAt: time.Now().Add(time.Hour)}
	var got ump.Token
	underStall(t, srv, func() error {
		got, err = s.CompareAndSwap(ctx(t), appID, 0, tok)
		return err // ErrTokenConflict here is the false conflict
	})
	require.Equal(t, int64(1), got.Version)
	loaded, err := s.Load(ctx(t), appID)
	require.NoError(t, err)
	require.Equal(t, int64(1), loaded.Version)
	require.Equal(t, "at-stalled", loaded.AccessToken)
}
