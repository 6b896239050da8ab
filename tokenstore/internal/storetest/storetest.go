// Package storetest is the contract every ump.TokenStore must meet, as one
// table of tests that the memory, file and Redis stores all run.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/stretchr/testify/require"
)

// Factory returns a new, empty store. It is called once per subtest.
type Factory func(t *testing.T) ump.TokenStore

const (
	appA = "wkb1ag2hdad7e6jw1r"
	appB = "wkother0000000001"
	day1 = "2025-01-01"
	day2 = "2025-01-02"
)

// sample is a full record, so that a store dropping a field fails.
func sample(suffix string) ump.Token {
	now := time.Date(2025, 1, 1, 8, 30, 15, 123456789, time.UTC)
	return ump.Token{
		AccessToken:      "at-" + suffix,
		RefreshToken:     "rt-" + suffix,
		AccessExpiresAt:  now.Add(2 * time.Hour),
		RefreshExpiresAt: now.Add(ump.RefreshTokenLifetime),
		ObtainedAt:       now.Add(-time.Hour),
		RefreshedAt:      now,
	}
}

// requireSameToken compares tokens by instant, not by location: a store may
// hand times back in another zone.
func requireSameToken(t *testing.T, want, got ump.Token) {
	t.Helper()
	require.Equal(t, want.AccessToken, got.AccessToken, "access token")
	require.Equal(t, want.RefreshToken, got.RefreshToken, "refresh token")
	require.True(t, want.AccessExpiresAt.Equal(got.AccessExpiresAt), "access expiry %v, want %v", got.AccessExpiresAt, want.AccessExpiresAt)
	require.True(t, want.RefreshExpiresAt.Equal(got.RefreshExpiresAt), "refresh expiry %v, want %v", got.RefreshExpiresAt, want.RefreshExpiresAt)
	require.True(t, want.ObtainedAt.Equal(got.ObtainedAt), "obtained at %v, want %v", got.ObtainedAt, want.ObtainedAt)
	require.True(t, want.RefreshedAt.Equal(got.RefreshedAt), "refreshed at %v, want %v", got.RefreshedAt, want.RefreshedAt)
	require.Equal(t, want.Version, got.Version, "version")
}

// Run runs the contract against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		run  func(t *testing.T, s ump.TokenStore)
	}{
		{"LoadEmpty", loadEmpty},
		{"SwapRoundTrip", swapRoundTrip},
		{"SwapConflict", swapConflict},
		{"SwapConcurrentOneWins", swapConcurrent},
		{"AppsAreSeparate", appsSeparate},
		{"SpendCountsToLimit", spendToLimit},
		{"SpendKeysByKindDayApp", spendKeys},
		{"SpendConcurrentNeverExceeds", spendConcurrent},
		{"LeaseExclusive", leaseExclusive},
		{"LeaseConcurrentOneHolder", leaseConcurrent},
		{"LeaseReleaseOnlyByHolder", leaseReleaseByHolder},
		{"LeaseExpires", leaseExpires},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, newStore(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func loadEmpty(t *testing.T, s ump.TokenStore) {
	got, err := s.Load(ctx(t), appA)
	require.NoError(t, err)
	require.Equal(t, int64(0), got.Version)
	require.Empty(t, got.AccessToken)
	require.Empty(t, got.RefreshToken)
	o, r, err := s.Spent(ctx(t), appA, day1)
	require.NoError(t, err)
	require.Zero(t, o)
	require.Zero(t, r)
}

func swapRoundTrip(t *testing.T, s ump.TokenStore) {
	in := sample("one")
	in.Version = 42 // ignored: the store numbers versions itself
	got, err := s.CompareAndSwap(ctx(t), appA, 0, in)
	require.NoError(t, err)
	want := in
	want.Version = 1
	requireSameToken(t, want, got)
	loaded, err := s.Load(ctx(t), appA)
	require.NoError(t, err)
	requireSameToken(t, want, loaded)

	next := sample("two")
	next.ObtainedAt, next.RefreshedAt = time.Time{}, time.Time{} // optional fields may be empty
	got, err = s.CompareAndSwap(ctx(t), appA, 1, next)
	require.NoError(t, err)
	want = next
	want.Version = 2
	requireSameToken(t, want, got)
	loaded, err = s.Load(ctx(t), appA)
	require.NoError(t, err)
	requireSameToken(t, want, loaded)
}

func swapConflict(t *testing.T, s ump.TokenStore) {
	first, err := s.CompareAndSwap(ctx(t), appA, 0, sample("one"))
	require.NoError(t, err)
	for _, old := range []int64{0, 2, 7} {
		_, err := s.CompareAndSwap(ctx(t), appA, old, sample("stale"))
		require.ErrorIs(t, err, ump.ErrTokenConflict, "old version %d", old)
	}
	loaded, err := s.Load(ctx(t), appA)
	require.NoError(t, err)
	requireSameToken(t, first, loaded)

	// Nothing stored: only version 0 matches.
	_, err = s.CompareAndSwap(ctx(t), appB, 1, sample("b"))
	require.ErrorIs(t, err, ump.ErrTokenConflict)
	loaded, err = s.Load(ctx(t), appB)
	require.NoError(t, err)
	require.Zero(t, loaded.Version)
}

func swapConcurrent(t *testing.T, s ump.TokenStore) {
	_, err := s.CompareAndSwap(ctx(t), appA, 0, sample("base"))
	require.NoError(t, err)
	const n = 20
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := sample(fmt.Sprint("writer-", i))
			_, err := s.CompareAndSwap(ctx(t), appA, 1, tok)
			switch {
			case err == nil:
				wins.Add(1)
				winner.Store(tok.AccessToken)
			case !errors.Is(err, ump.ErrTokenConflict):
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), wins.Load(), "exactly one writer wins a version")
	loaded, err := s.Load(ctx(t), appA)
	require.NoError(t, err)
	require.Equal(t, int64(2), loaded.Version)
	require.Equal(t, winner.Load(), loaded.AccessToken)
}

func appsSeparate(t *testing.T, s ump.TokenStore) {
	_, err := s.CompareAndSwap(ctx(t), appA, 0, sample("a"))
	require.NoError(t, err)
	b, err := s.Load(ctx(t), appB)
	require.NoError(t, err)
	require.Zero(t, b.Version)
	got, err := s.CompareAndSwap(ctx(t), appB, 0, sample("b"))
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version)
	a, err := s.Load(ctx(t), appA)
	require.NoError(t, err)
	require.Equal(t, "at-a", a.AccessToken)

	release, err := s.Lease(ctx(t), appA, time.Minute)
	require.NoError(t, err)
	defer func() { require.NoError(t, release(ctx(t))) }()
	releaseB, err := s.Lease(ctx(t), appB, time.Minute)
	require.NoError(t, err, "a lease is per app id")
	require.NoError(t, releaseB(ctx(t)))
}

func spendToLimit(t *testing.T, s ump.TokenStore) {
	for i := 1; i <= 3; i++ {
		n, err := s.Spend(ctx(t), appA, ump.TokenRefresh, day1, 3)
		require.NoError(t, err)
		require.Equal(t, i, n)
	}
	n, err := s.Spend(ctx(t), appA, ump.TokenRefresh, day1, 3)
	require.ErrorIs(t, err, ump.ErrTokenBudgetExhausted)
	require.Equal(t, 3, n)
	// A lower limit (the headroom of proactive refreshes) refuses too.
	n, err = s.Spend(ctx(t), appA, ump.TokenRefresh, day1, 2)
	require.ErrorIs(t, err, ump.ErrTokenBudgetExhausted)
	require.Equal(t, 3, n)
	// A higher one allows more.
	n, err = s.Spend(ctx(t), appA, ump.TokenRefresh, day1, 4)
	require.NoError(t, err)
	require.Equal(t, 4, n)

	_, err = s.Spend(ctx(t), appA, ump.TokenObtain, day1, 0)
	require.ErrorIs(t, err, ump.ErrTokenBudgetExhausted, "limit 0 allows nothing")

	o, r, err := s.Spent(ctx(t), appA, day1)
	require.NoError(t, err)
	require.Equal(t, 0, o)
	require.Equal(t, 4, r)
}

func spendKeys(t *testing.T, s ump.TokenStore) {
	_, err := s.Spend(ctx(t), appA, ump.TokenObtain, day1, 1)
	require.NoError(t, err)
	_, err = s.Spend(ctx(t), appA, ump.TokenObtain, day1, 1)
	require.ErrorIs(t, err, ump.ErrTokenBudgetExhausted)
	n, err := s.Spend(ctx(t), appA, ump.TokenRefresh, day1, 1)
	require.NoError(t, err, "refreshes are counted apart from obtains")
	require.Equal(t, 1, n)
	n, err = s.Spend(ctx(t), appA, ump.TokenObtain, day2, 1)
	require.NoError(t, err, "a new day has a new budget")
	require.Equal(t, 1, n)
	n, err = s.Spend(ctx(t), appB, ump.TokenObtain, day1, 1)
	require.NoError(t, err, "apps have their own budgets")
	require.Equal(t, 1, n)

	for _, c := range []struct {
		app, day string
		o, r     int
	}{{appA, day1, 1, 1}, {appA, day2, 1, 0}, {appB, day1, 1, 0}, {appB, day2, 0, 0}} {
		o, r, err := s.Spent(ctx(t), c.app, c.day)
		require.NoError(t, err)
		require.Equal(t, c.o, o, "obtains of %s on %s", c.app, c.day)
		require.Equal(t, c.r, r, "refreshes of %s on %s", c.app, c.day)
	}
}

func spendConcurrent(t *testing.T, s ump.TokenStore) {
	const spenders, limit = 50, ump.RefreshesPerDay
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, spenders)
	for range spenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Spend(ctx(t), appA, ump.TokenRefresh, day1, limit)
			switch {
			case err == nil:
				if n < 1 || n > limit {
					errs <- fmt.Errorf("count %d outside 1..%d", n, limit)
				}
				ok.Add(1)
			case errors.Is(err, ump.ErrTokenBudgetExhausted):
				refused.Add(1)
			default:
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(limit), ok.Load())
	require.Equal(t, int32(spenders-limit), refused.Load())
	_, r, err := s.Spent(ctx(t), appA, day1)
	require.NoError(t, err)
	require.Equal(t, limit, r)
}

func leaseExclusive(t *testing.T, s ump.TokenStore) {
	release, err := s.Lease(ctx(t), appA, time.Minute)
	require.NoError(t, err)
	_, err = s.Lease(ctx(t), appA, time.Minute)
	require.ErrorIs(t, err, ump.ErrLeaseHeld)
	require.NoError(t, release(ctx(t)))
	release2, err := s.Lease(ctx(t), appA, time.Minute)
	require.NoError(t, err, "a released lease can be taken again")
	require.NoError(t, release2(ctx(t)))
	require.NoError(t, release2(ctx(t)), "releasing twice is harmless")
}

func leaseConcurrent(t *testing.T, s ump.TokenStore) {
	const n = 20
	var holders atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Lease(ctx(t), appA, time.Minute)
			switch {
			case err == nil:
				holders.Add(1)
			case !errors.Is(err, ump.ErrLeaseHeld):
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int32(1), holders.Load())
}

// leaseReleaseByHolder: a holder whose lease lapsed and was taken by another
// must not release the new holder's lease.
func leaseReleaseByHolder(t *testing.T, s ump.TokenStore) {
	stale, err := s.Lease(ctx(t), appA, 30*time.Millisecond)
	require.NoError(t, err)
	awaitLease(t, s, appA)
	// Now another holder has it (awaitLease took it for a minute).
	require.NoError(t, stale(ctx(t)))
	_, err = s.Lease(ctx(t), appA, time.Minute)
	require.ErrorIs(t, err, ump.ErrLeaseHeld, "the stale holder's release freed the new holder's lease")
}

func leaseExpires(t *testing.T, s ump.TokenStore) {
	// Long enough that a store slowed by -race and a busy machine (fsync,
	// a Redis round trip) still answers the second call within it.
	_, err := s.Lease(ctx(t), appA, time.Second)
	require.NoError(t, err)
	_, err = s.Lease(ctx(t), appA, time.Minute)
	require.ErrorIs(t, err, ump.ErrLeaseHeld, "held before its ttl ends")
	awaitLease(t, s, appA)
}

// awaitLease polls until the lease can be taken (for a minute), failing after
// a bound far beyond the short ttls the tests use.
func awaitLease(t *testing.T, s ump.TokenStore, app string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Lease(ctx(t), app, time.Minute)
		if err == nil {
			return
		}
		require.ErrorIs(t, err, ump.ErrLeaseHeld)
		require.True(t, time.Now().Before(deadline), "lease never expired")
		time.Sleep(5 * time.Millisecond)
	}
}
