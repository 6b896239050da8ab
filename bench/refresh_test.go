package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// refreshLatency is how long the gateway takes to answer the token refresh
// in BenchmarkRefreshUnderLoad: ten round trips, so that a caller queued
// behind the refresh would stand out.
const refreshLatency = 10 * gatewayLatency

// refreshWarmUp is the time BenchmarkRefreshUnderLoad gives a new client to
// open its connections before the steady window.
const refreshWarmUp = 3 * time.Second

// BenchmarkRefreshUnderLoad measures what a proactive token refresh costs
// 256 callers that keep calling: umptest over TLS answers every call after
// 20 ms and the refresh (2.2) after 200 ms; the SDK runs with its defaults.
//
// Each round is one client and one run of the callers: a warm-up of
// refreshWarmUp (the callers starting over its first half; a round whose
// callers have not all made two calls by its end is run again with a
// longer warm-up, reported as warm-up-retries), a window of steady state, and a window a quarter of the way into
// which the token falls due, so that one caller refreshes while the others
// go on. The token comes from umptest's IssueToken, valid there for two
// hours; the client's copy is stored as expiring 12 minutes after the
// planned moment, which puts the moment at the start of the refresh window
// without moving any clock (a moved clock would fail the gateway's
// timestamp check). Calls are assigned to a window by when they started.
// Reported: p50 and p99.9 of both windows, the rise of p99.9 in ms and in
// round trips (the steady p50), the refreshes (one per round), the calls
// the gateway rejected for a retired token (the SDK sends them again) and
// the calls that failed in each window (not timed). The gateway counts a
// call it refused for a stale timestamp as rejected too: on an overloaded
// machine, calls wait longer than its 3 s check allows.
//
// grace=0 is umptest's default and the strictest: the old access token stops
// working the moment the refresh is applied, so the calls in flight with it
// are rejected and sent again. grace=1m lets it work a minute longer.
func BenchmarkRefreshUnderLoad(b *testing.B) {
	window := envDuration(b, "UMP_PEAK_WINDOW", defaultPeakWindow)
	const callers = 256
	for _, grace := range []time.Duration{0, time.Minute} {
		b.Run(fmt.Sprintf("grace=%v", grace), func(b *testing.B) {
			srv := umptest.NewServer(umptest.WithTLS(), umptest.WithRefreshGrace(grace), umptest.WithTokenLimits(-1, -1))
			b.Cleanup(srv.Close)
			srv.AddMember(umptest.Member{Phone: phone})
			srv.Fail("dss.auth.token.refresh", umptest.Fault{Kind: umptest.Delay, Delay: refreshLatency})
			srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.Delay, Delay: gatewayLatency})

			var steady, during load
			var refreshes, rejected, retries int
			var failures [2]int // steady, refresh
			var lastErr error
			b.ResetTimer()
			for range b.N {
				warmUp := refreshWarmUp
				for attempt := 1; ; attempt++ {
					r := refreshRound(b, srv, callers, warmUp, window)
					if r.warmUp <= warmUp {
						steady.lat = append(steady.lat, r.steady...)
						during.lat = append(during.lat, r.during...)
						failures[0] += r.failures[0]
						failures[1] += r.failures[1]
						rejected += r.rejected
						refreshes++
						if r.lastErr != nil {
							lastErr = r.lastErr
						}
						break
					}
					// The connections were still opening when the
					// steady window began: try again with more time.
					b.Logf("warm-up took %v, planned %v", r.warmUp.Round(time.Millisecond), warmUp)
					if attempt == 3 {
						b.Skipf("the warm-up overran three times: the machine is too loaded to measure 256 callers")
					}
					warmUp = 2 * r.warmUp
					retries++
				}
			}
			b.StopTimer()
			rtt := steady.quantile(0.50)
			rise := during.quantile(0.999) - steady.quantile(0.999)
			b.ReportMetric(rtt, "steady-p50-ms")
			b.ReportMetric(steady.quantile(0.999), "steady-p99.9-ms")
			b.ReportMetric(during.quantile(0.50), "refresh-p50-ms")
			b.ReportMetric(during.quantile(0.999), "refresh-p99.9-ms")
			b.ReportMetric(during.quantile(1), "refresh-max-ms")
			b.ReportMetric(rise, "p99.9-rise-ms")
			b.ReportMetric(rise/rtt, "p99.9-rise/round-trip")
			b.ReportMetric(float64(refreshes), "refreshes")
			b.ReportMetric(float64(rejected), "rejected")
			b.ReportMetric(float64(failures[0]), "steady-failures")
			b.ReportMetric(float64(failures[1]), "refresh-failures")
			b.ReportMetric(float64(retries), "warm-up-retries")
			if lastErr != nil {
				b.Logf("last failure: %v", lastErr)
			}
		})
	}
}

// refreshResult is one round of BenchmarkRefreshUnderLoad.
type refreshResult struct {
	steady, during []time.Duration // latencies of the calls that succeeded
	failures       [2]int          // failed calls: steady, refresh window
	lastErr        error
	rejected       int           // calls the gateway refused for their credentials
	warmUp         time.Duration // until every caller had made two calls
}

// refreshRound runs one round: a new client whose token falls due warmUp +
// window + window/4 from now, and callers calling until a window after
// that. The round counts only if its warmUp held (result.warmUp <= warmUp).
func refreshRound(b *testing.B, srv *umptest.Server, callers int, warmUp, window time.Duration) refreshResult {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	steadyStart := start.Add(warmUp)
	steadyEnd := steadyStart.Add(window)
	due := steadyEnd.Add(window / 4)

	tok := srv.IssueToken()
	tok.ObtainedAt, tok.RefreshedAt = time.Time{}, time.Time{}
	tok.AccessExpiresAt = due.Add(ump.DefaultRefreshWindow)
	store := ump.NewMemoryTokenStore()
	if _, err := store.CompareAndSwap(ctx, srv.AppID, 0, tok); err != nil {
		b.Fatal(err)
	}
	// The SDK's defaults, its own transport included (TestMain trusts the
	// server's certificate).
	c, err := ump.NewClient(srv.AppID, srv.AppSecret, ump.WithBaseURL(srv.URL), ump.WithTokenStore(store))
	if err != nil {
		b.Fatal(err)
	}
	before := srv.Stats()
	calls, warmAt := run(callers, time.Until(steadyEnd.Add(window)), warmUp/2, true, func() error {
		_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
		return err
	})
	after := srv.Stats()
	r := refreshResult{rejected: after.Rejected - before.Rejected, warmUp: warmAt.Sub(start)}
	if r.warmUp > warmUp {
		return r
	}
	if n := after.TokenRefreshes - before.TokenRefreshes; n != 1 {
		b.Fatalf("%d refreshes in a round, want 1", n)
	}
	for _, s := range calls {
		switch {
		case s.start.Before(steadyStart):
		case s.err != nil:
			// A failure in a measured window is counted, not timed: on
			// an overloaded machine a call can miss the gateway's 3 s
			// timestamp check.
			if s.start.Before(steadyEnd) {
				r.failures[0]++
			} else {
				r.failures[1]++
			}
			r.lastErr = s.err
		case s.start.Before(steadyEnd):
			r.steady = append(r.steady, s.lat)
		default:
			r.during = append(r.during, s.lat)
		}
	}
	if len(r.steady) == 0 || len(r.during) == 0 {
		b.Fatalf("%d calls in the steady window, %d in the refresh window", len(r.steady), len(r.during))
	}
	return r
}
