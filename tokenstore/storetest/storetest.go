// Package storetest is the contract every ump.TokenStore must meet: the
// memory, file and Redis stores run it, and so can yours, in one call:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) ump.TokenStore { return mystore.New(...) })
//	}
//
// Each subtest gets a new, empty store. The tests use real time (leases of
// a second expire) and the app ids in AppIDs.
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
)

// Factory returns a new, empty store. It is called once per subtest.
type Factory func(t *testing.T) ump.TokenStore

// AppIDs are the app ids the contract uses.
var AppIDs = [2]string{appA, appB}

const (
	appA = "wkb1ag2hdad7e6jw1r"
	appB = "wkother0000000001"
	day1 = "2025-01-01"
	day2 = "2025-01-02"
)

// Run runs the contract against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		run  func(t *testing.T, s ump.TokenStore)
	}{
		{"Describes", describes},
		{"LoadEmpty", loadEmpty},
		{"SwapRoundTrip", swapRoundTrip},
		{"SwapConflict", swapConflict},
		{"SwapRepeatedSucceeds", swapRepeated},
		{"SwapConcurrentOneWins", swapConcurrent},
		{"Forget", forget},
		{"AppsAreSeparate", appsSeparate},
		{"SpendCountsToLimit", spendToLimit},
		{"SpendKeysByKindDayApp", spendKeys},
		{"SpendRepeatedCountsOnce", spendRepeated},
		{"SpendKeepsDetails", spendDetails},
		{"SpendConcurrentNeverExceeds", spendConcurrent},
		{"GiveBackByNonce", giveBack},
		{"ResetSpent", resetSpent},
		{"Pause", pauseRoundTrip},
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

// must fails the test at once on an error.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// mustBe fails the test unless err matches target.
func mustBe(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// equal fails the test unless got == want.
func equal[T comparable](t *testing.T, got, want T, what string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

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

// sameToken compares tokens by instant, not by location: a store may hand
// times back in another zone.
func sameToken(t *testing.T, want, got ump.Token) {
	t.Helper()
	equal(t, got.AccessToken, want.AccessToken, "access token")
	equal(t, got.RefreshToken, want.RefreshToken, "refresh token")
	for _, c := range []struct {
		what      string
		got, want time.Time
	}{{"access expiry", got.AccessExpiresAt, want.AccessExpiresAt}, {"refresh expiry", got.RefreshExpiresAt, want.RefreshExpiresAt},
		{"obtained at", got.ObtainedAt, want.ObtainedAt}, {"refreshed at", got.RefreshedAt, want.RefreshedAt}} {
		if !c.got.Equal(c.want) {
			t.Fatalf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	equal(t, got.Version, want.Version, "version")
}

// spend is a spend of kind on day with a fresh nonce.
func spend(kind ump.TokenCall, day string) ump.TokenSpend {
	return ump.TokenSpend{Kind: kind, Day: day, Nonce: ump.LeaseID(), At: time.Date(2025, 1, 1, 1, 2, 3, 0, time.UTC), By: "host/42"}
}

// spent returns the day's counts of app.
func spent(t *testing.T, s ump.TokenStore, app, day string) (obtains, refreshes int) {
	t.Helper()
	d, err := s.Spent(ctx(t), app, day)
	must(t, err, "Spent")
	return d.Count(ump.TokenObtain), d.Count(ump.TokenRefresh)
}

func describes(t *testing.T, s ump.TokenStore) {
	if s.String() == "" {
		t.Fatal("String is empty: logs and `ump token show` name the store by it")
	}
}

func loadEmpty(t *testing.T, s ump.TokenStore) {
	got, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	equal(t, got.Version, 0, "version")
	equal(t, got.AccessToken+got.RefreshToken, "", "tokens")
	o, r := spent(t, s, appA, day1)
	equal(t, o+r, 0, "calls spent")
	p, err := s.Pause(ctx(t), appA)
	must(t, err, "Pause")
	equal(t, p, ump.TokenPause{}, "pause")
}

func swapRoundTrip(t *testing.T, s ump.TokenStore) {
	in := sample("one")
	in.Version = 42 // ignored: the store numbers versions itself
	got, err := s.CompareAndSwap(ctx(t), appA, 0, in)
	must(t, err, "CompareAndSwap")
	want := in
	want.Version = 1
	sameToken(t, want, got)
	loaded, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	sameToken(t, want, loaded)

	next := sample("two")
	next.ObtainedAt, next.RefreshedAt = time.Time{}, time.Time{} // optional fields may be empty
	got, err = s.CompareAndSwap(ctx(t), appA, 1, next)
	must(t, err, "CompareAndSwap")
	want = next
	want.Version = 2
	sameToken(t, want, got)
	loaded, err = s.Load(ctx(t), appA)
	must(t, err, "Load")
	sameToken(t, want, loaded)
}

func swapConflict(t *testing.T, s ump.TokenStore) {
	first, err := s.CompareAndSwap(ctx(t), appA, 0, sample("one"))
	must(t, err, "CompareAndSwap")
	for _, old := range []int64{0, 2, 7} {
		_, err := s.CompareAndSwap(ctx(t), appA, old, sample("stale"))
		mustBe(t, err, ump.ErrTokenConflict, fmt.Sprint("old version ", old))
	}
	loaded, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	sameToken(t, first, loaded)

	// Nothing stored: only version 0 matches.
	_, err = s.CompareAndSwap(ctx(t), appB, 1, sample("b"))
	mustBe(t, err, ump.ErrTokenConflict, "swap over nothing at version 1")
	loaded, err = s.Load(ctx(t), appB)
	must(t, err, "Load")
	equal(t, loaded.Version, 0, "version")
}

// swapRepeated: a store client that sends a swap again (after a timeout)
// finds its own write, which is a success, not a conflict.
func swapRepeated(t *testing.T, s ump.TokenStore) {
	tok := sample("once")
	first, err := s.CompareAndSwap(ctx(t), appA, 0, tok)
	must(t, err, "CompareAndSwap")
	again, err := s.CompareAndSwap(ctx(t), appA, 0, tok)
	must(t, err, "the same swap, repeated")
	sameToken(t, first, again)
	_, err = s.CompareAndSwap(ctx(t), appA, 0, sample("other"))
	mustBe(t, err, ump.ErrTokenConflict, "a different record at the old version")
}

func swapConcurrent(t *testing.T, s ump.TokenStore) {
	_, err := s.CompareAndSwap(ctx(t), appA, 0, sample("base"))
	must(t, err, "CompareAndSwap")
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
		must(t, err, "CompareAndSwap")
	}
	equal(t, wins.Load(), 1, "writers that won version 2")
	loaded, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	equal(t, loaded.Version, 2, "version")
	equal(t, loaded.AccessToken, winner.Load().(string), "the stored token")
}

func forget(t *testing.T, s ump.TokenStore) {
	gone, err := s.Forget(ctx(t), appA)
	must(t, err, "Forget with nothing stored")
	equal(t, gone.Version, 0, "version forgotten")
	stored, err := s.CompareAndSwap(ctx(t), appA, 0, sample("one"))
	must(t, err, "CompareAndSwap")
	gone, err = s.Forget(ctx(t), appA)
	must(t, err, "Forget")
	sameToken(t, stored, gone)
	loaded, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	equal(t, loaded.Version, 0, "version after Forget")
	_, err = s.CompareAndSwap(ctx(t), appA, 0, sample("two"))
	must(t, err, "a forgotten record can be written anew")
}

func appsSeparate(t *testing.T, s ump.TokenStore) {
	_, err := s.CompareAndSwap(ctx(t), appA, 0, sample("a"))
	must(t, err, "CompareAndSwap")
	b, err := s.Load(ctx(t), appB)
	must(t, err, "Load")
	equal(t, b.Version, 0, "other app's version")
	got, err := s.CompareAndSwap(ctx(t), appB, 0, sample("b"))
	must(t, err, "CompareAndSwap")
	equal(t, got.Version, 1, "other app's version")
	a, err := s.Load(ctx(t), appA)
	must(t, err, "Load")
	equal(t, a.AccessToken, "at-a", "first app's token")

	must(t, s.SetPause(ctx(t), appA, ump.TokenPause{Until: time.Now().Add(time.Hour), Failures: 1}), "SetPause")
	p, err := s.Pause(ctx(t), appB)
	must(t, err, "Pause")
	equal(t, p, ump.TokenPause{}, "a pause is per app id")

	release, err := s.Lease(ctx(t), appA, time.Minute)
	must(t, err, "Lease")
	defer func() { must(t, release(ctx(t)), "release") }()
	releaseB, err := s.Lease(ctx(t), appB, time.Minute)
	must(t, err, "a lease is per app id")
	must(t, releaseB(ctx(t)), "release")
}

// spendOK spends sp within limit and requires it counted, returning the
// day's count of its kind.
func spendOK(t *testing.T, s ump.TokenStore, app string, sp ump.TokenSpend, limit int) int {
	t.Helper()
	d, ok, err := s.Spend(ctx(t), app, sp, limit)
	must(t, err, "Spend")
	if !ok {
		t.Fatalf("Spend of a %s call refused within limit %d (%d counted)", sp.Kind, limit, d.Count(sp.Kind))
	}
	return d.Count(sp.Kind)
}

// spendRefused requires sp refused at limit, returning the day's count.
func spendRefused(t *testing.T, s ump.TokenStore, app string, sp ump.TokenSpend, limit int) int {
	t.Helper()
	d, ok, err := s.Spend(ctx(t), app, sp, limit)
	must(t, err, "Spend")
	if ok {
		t.Fatalf("Spend of a %s call counted beyond limit %d", sp.Kind, limit)
	}
	return d.Count(sp.Kind)
}

func spendToLimit(t *testing.T, s ump.TokenStore) {
	for i := 1; i <= 3; i++ {
		equal(t, spendOK(t, s, appA, spend(ump.TokenRefresh, day1), 3), i, "count")
	}
	equal(t, spendRefused(t, s, appA, spend(ump.TokenRefresh, day1), 3), 3, "count when refused")
	// A lower limit (the headroom of proactive refreshes) refuses too.
	equal(t, spendRefused(t, s, appA, spend(ump.TokenRefresh, day1), 2), 3, "count when refused")
	// A higher one allows more.
	equal(t, spendOK(t, s, appA, spend(ump.TokenRefresh, day1), 4), 4, "count")
	spendRefused(t, s, appA, spend(ump.TokenObtain, day1), 0) // limit 0 allows nothing
	o, r := spent(t, s, appA, day1)
	equal(t, o, 0, "obtains")
	equal(t, r, 4, "refreshes")
}

func spendKeys(t *testing.T, s ump.TokenStore) {
	spendOK(t, s, appA, spend(ump.TokenObtain, day1), 1)
	spendRefused(t, s, appA, spend(ump.TokenObtain, day1), 1)
	equal(t, spendOK(t, s, appA, spend(ump.TokenRefresh, day1), 1), 1, "refreshes are counted apart from obtains")
	equal(t, spendOK(t, s, appA, spend(ump.TokenObtain, day2), 1), 1, "a new day has a new budget")
	equal(t, spendOK(t, s, appB, spend(ump.TokenObtain, day1), 1), 1, "apps have their own budgets")
	for _, c := range []struct {
		app, day string
		o, r     int
	}{{appA, day1, 1, 1}, {appA, day2, 1, 0}, {appB, day1, 1, 0}, {appB, day2, 0, 0}} {
		o, r := spent(t, s, c.app, c.day)
		equal(t, o, c.o, "obtains of "+c.app+" on "+c.day)
		equal(t, r, c.r, "refreshes of "+c.app+" on "+c.day)
	}
}

// spendRepeated: a spend sent twice (a store client's retry) counts once,
// even when the day is full by then.
func spendRepeated(t *testing.T, s ump.TokenStore) {
	sp := spend(ump.TokenObtain, day1)
	equal(t, spendOK(t, s, appA, sp, 1), 1, "count")
	equal(t, spendOK(t, s, appA, sp, 1), 1, "count after the same spend again")
	o, _ := spent(t, s, appA, day1)
	equal(t, o, 1, "obtains")
}

func spendDetails(t *testing.T, s ump.TokenStore) {
	first := spend(ump.TokenRefresh, day1)
	second := spend(ump.TokenRefresh, day1)
	second.At, second.By = first.At.Add(time.Minute), "other-host/7"
	spendOK(t, s, appA, first, 20)
	spendOK(t, s, appA, second, 20)
	d, err := s.Spent(ctx(t), appA, day1)
	must(t, err, "Spent")
	equal(t, d.Day, day1, "day")
	last, ok := d.Last(ump.TokenRefresh)
	equal(t, ok, true, "a last refresh")
	equal(t, last.Nonce, second.Nonce, "the last spend's nonce")
	equal(t, last.By, second.By, "who spent last")
	if !last.At.Equal(second.At) {
		t.Fatalf("the last spend's time: got %v, want %v", last.At, second.At)
	}
	equal(t, d.Has(first.Nonce), true, "the first spend is kept")
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
			d, counted, err := s.Spend(ctx(t), appA, spend(ump.TokenRefresh, day1), limit)
			switch {
			case err != nil:
				errs <- err
			case counted:
				if n := d.Count(ump.TokenRefresh); n < 1 || n > limit {
					errs <- fmt.Errorf("count %d outside 1..%d", n, limit)
				}
				ok.Add(1)
			default:
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err, "Spend")
	}
	equal(t, ok.Load(), limit, "spends counted")
	equal(t, refused.Load(), spenders-limit, "spends refused")
	_, r := spent(t, s, appA, day1)
	equal(t, r, limit, "refreshes")
}

func giveBack(t *testing.T, s ump.TokenStore) {
	kept := spend(ump.TokenObtain, day1)
	refused := spend(ump.TokenRefresh, day1)
	spendOK(t, s, appA, kept, 1)
	spendOK(t, s, appA, refused, 1)
	must(t, s.GiveBack(ctx(t), appA, refused), "GiveBack")
	must(t, s.GiveBack(ctx(t), appA, refused), "GiveBack twice")
	must(t, s.GiveBack(ctx(t), appA, spend(ump.TokenObtain, day1)), "GiveBack of a spend never counted")
	o, r := spent(t, s, appA, day1)
	equal(t, o, 1, "obtains after giving back a refresh")
	equal(t, r, 0, "refreshes after giving one back")
	spendOK(t, s, appA, spend(ump.TokenRefresh, day1), 1) // the refresh given back can be spent again
}

func resetSpent(t *testing.T, s ump.TokenStore) {
	spendOK(t, s, appA, spend(ump.TokenObtain, day1), 1)
	spendOK(t, s, appA, spend(ump.TokenRefresh, day1), 20)
	spendOK(t, s, appA, spend(ump.TokenRefresh, day2), 20)
	cleared, err := s.ResetSpent(ctx(t), appA, day1)
	must(t, err, "ResetSpent")
	equal(t, cleared.Count(ump.TokenObtain), 1, "obtains cleared")
	equal(t, cleared.Count(ump.TokenRefresh), 1, "refreshes cleared")
	o, r := spent(t, s, appA, day1)
	equal(t, o+r, 0, "calls left on the day reset")
	_, r = spent(t, s, appA, day2)
	equal(t, r, 1, "another day is untouched")
	spendOK(t, s, appA, spend(ump.TokenObtain, day1), 1)
}

func pauseRoundTrip(t *testing.T, s ump.TokenStore) {
	at := time.Date(2025, 1, 1, 1, 0, 0, 0, time.UTC)
	in := ump.TokenPause{Until: at.Add(2 * time.Minute), Failures: 2, Reason: "ump: dss.auth.token.refresh: error 500: 系统繁忙", At: at, By: "host/9"}
	must(t, s.SetPause(ctx(t), appA, in), "SetPause")
	got, err := s.Pause(ctx(t), appA)
	must(t, err, "Pause")
	if !got.Until.Equal(in.Until) || !got.At.Equal(in.At) || got.Failures != in.Failures || got.Reason != in.Reason || got.By != in.By {
		t.Fatalf("Pause: got %+v, want %+v", got, in)
	}
	must(t, s.SetPause(ctx(t), appA, ump.TokenPause{}), "SetPause to clear")
	got, err = s.Pause(ctx(t), appA)
	must(t, err, "Pause")
	equal(t, got, ump.TokenPause{}, "pause after clearing")
}

func leaseExclusive(t *testing.T, s ump.TokenStore) {
	release, err := s.Lease(ctx(t), appA, time.Minute)
	must(t, err, "Lease")
	_, err = s.Lease(ctx(t), appA, time.Minute)
	mustBe(t, err, ump.ErrLeaseHeld, "a second Lease")
	must(t, release(ctx(t)), "release")
	release2, err := s.Lease(ctx(t), appA, time.Minute)
	must(t, err, "a released lease can be taken again")
	must(t, release2(ctx(t)), "release")
	must(t, release2(ctx(t)), "releasing twice is harmless")
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
		must(t, err, "Lease")
	}
	equal(t, holders.Load(), 1, "holders")
}

// leaseReleaseByHolder: a holder whose lease lapsed and was taken by another
// must not release the new holder's lease.
func leaseReleaseByHolder(t *testing.T, s ump.TokenStore) {
	stale, err := s.Lease(ctx(t), appA, 30*time.Millisecond)
	must(t, err, "Lease")
	awaitLease(t, s, appA)
	// Now another holder has it (awaitLease took it for a minute).
	must(t, stale(ctx(t)), "the stale holder's release")
	_, err = s.Lease(ctx(t), appA, time.Minute)
	mustBe(t, err, ump.ErrLeaseHeld, "Lease after a stale holder's release")
}

func leaseExpires(t *testing.T, s ump.TokenStore) {
	// Long enough that a store slowed by -race and a busy machine (fsync,
	// a Redis round trip) still answers the second call within it.
	_, err := s.Lease(ctx(t), appA, time.Second)
	must(t, err, "Lease")
	_, err = s.Lease(ctx(t), appA, time.Minute)
	mustBe(t, err, ump.ErrLeaseHeld, "Lease before the ttl ends")
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
		mustBe(t, err, ump.ErrLeaseHeld, "Lease")
		if time.Now().After(deadline) {
			t.Fatal("the lease never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
