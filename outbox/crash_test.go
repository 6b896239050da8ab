package outbox_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/redisstore"
	"github.com/greedc/ump-go/umptest"
)

// The day of the crash tests, as the issue sets it: 300 sales, 60 returns
// of some of them, 100 score changes.
const (
	daySales   = 300
	dayReturns = 60
	dayChanges = 100
	dayMembers = 40
)

// recordOffline enqueues the day with the network down, while a drainer
// tries to deliver through a transport whose every dial fails: nothing
// reaches the gateway, the drainer probes with one job at a time, and no
// job is marked as possibly sent.
// The till holds the day's token from before the network went.
func recordOffline(t *testing.T, srv *umptest.Server, d *day, store outbox.Store, tokens ump.TokenStore) {
	t.Helper()
	ob := outbox.New(store)
	c := srv.Client(ump.WithHTTPClient(offline()), ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}), ump.WithTokenStore(tokens))
	dr := outbox.NewDrainer(store, c, outbox.WithConcurrency(4), outbox.WithBackoff(time.Millisecond, 5*time.Millisecond),
		outbox.WithPollInterval(time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- dr.Run(ctx) }()
	d.enqueue(t, ob)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	st, err := dr.DrainOnce(t.Context())
	require.ErrorIs(t, err, outbox.ErrUnreachable)
	assert.Contains(t, err.Error(), "network is unreachable")
	assert.Zero(t, st.Delivered)
	assert.True(t, dr.State().Unreachable)

	assert.Empty(t, srv.Stats().Calls, "no request reached the gateway")
	queued, err := store.List(t.Context(), outbox.StateQueued, 0)
	require.NoError(t, err)
	require.Len(t, queued, d.jobs())
	tried := 0
	for _, j := range queued {
		assert.False(t, j.Resend, "a dial that failed sent nothing: %s", j.Key())
		if j.Attempts > 0 {
			tried++
		}
	}
	// Probing: the first round tries up to the concurrency, then one job
	// at a time, never every job.
	assert.LessOrEqual(t, tried, 8, "jobs tried while offline")
}

// TestCrashBolt is the till's day: recorded offline into a bbolt file, then
// drained by a separate process against a gateway that loses 20% of the
// answers and is busy 10% of the time, SIGKILLed after its 100th delivery;
// the file is reopened and drained to empty. The gateway holds every sale,
// return and change exactly once, in order.
func TestCrashBolt(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	d := newDay(srv, dayMembers, daySales, dayReturns, dayChanges)
	path := filepath.Join(t.TempDir(), "till.db")
	tokenPath, tokens := tokenFile(t)
	obtainToken(t, srv, tokens)
	srv.ResetStats()
	store, err := boltstore.Open(path)
	require.NoError(t, err)
	recordOffline(t, srv, d, store, tokens)
	require.NoError(t, store.Close())

	faulty(srv)
	p := startDrainer(t, append(gatewayEnv(srv), "STORE=bolt:"+path, "TOKENS="+tokenPath)...)
	first := p.killAfter(t, 100)

	store, err = boltstore.Open(path)
	require.NoError(t, err)
	defer store.Close()
	st, err := store.Stats(t.Context())
	require.NoError(t, err)
	// Every reported delivery left the file; so may a few recorded just
	// before the kill and not yet reported (one per delivering goroutine).
	assert.LessOrEqual(t, st.Queued, d.jobs()-len(first))
	assert.GreaterOrEqual(t, st.Queued, d.jobs()-len(first)-4)
	c := srv.Client(ump.WithTokenStore(tokens))
	dr := outbox.NewDrainer(store, c, outbox.WithConcurrency(4), outbox.WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		outbox.WithPollInterval(5*time.Millisecond))
	res, err := dr.DrainOnce(t.Context())
	require.NoError(t, err)
	t.Logf("first process: %d deliveries reported before SIGKILL; after reopening: %d delivered, %d retried",
		len(first), res.Delivered, res.Retried)
	assertEmpty(t, store)
	d.verify(t, srv)
}

// TestCrashRedis is TestCrashBolt with the Redis Streams store and three
// drainer processes, one of them SIGKILLed mid-drain: its jobs are claimed
// by the others after the claim idle time.
func TestCrashRedis(t *testing.T) {
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	srv := umptest.NewServer()
	defer srv.Close()
	d := newDay(srv, dayMembers, daySales, dayReturns, dayChanges)
	store, err := redisstore.Open(t.Context(), rdb, redisstore.WithName("crash"), redisstore.WithConsumer("test"))
	require.NoError(t, err)
	tokens := redisTokens(rdb)
	obtainToken(t, srv, tokens)
	srv.ResetStats()
	recordOffline(t, srv, d, store, tokens)

	faulty(srv)
	env := append(gatewayEnv(srv), "STORE="+rs.Addr, "NAME=crash")
	var ps []*drainer
	for i := range 3 {
		ps = append(ps, startDrainer(t, append(env, fmt.Sprintf("CONSUMER=drainer-%d", i))...))
	}
	killed := ps[0].killAfter(t, 50)
	total := len(killed)
	for _, p := range ps[1:] {
		total += len(p.wait(t))
	}
	t.Logf("deliveries reported: %d by the killed process, %d in all", len(killed), total)
	// A job is reported once it is recorded delivered; the killed process
	// may have recorded up to one per delivering goroutine unreported.
	assert.LessOrEqual(t, total, d.jobs())
	assert.GreaterOrEqual(t, total, d.jobs()-4)
	assertEmpty(t, store)
	d.verify(t, srv)
}
