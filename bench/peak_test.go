package bench_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
)

// The peak benchmarks: many callers against a TLS server that answers after
// a fixed latency, the SDK built with its defaults against a hand-written
// client with an ample idle pool, taking turns in one run (issue 17).
//
// UMP_PEAK_WINDOW sets how long each side is measured per round (default
// defaultPeakWindow, what CI runs with -benchtime 1x); scripts/bench.sh
// sets 4s. Rounds are b.N.

// TestMain makes the test certificate of net/http/httptest (one fixed
// certificate for every TLS test server) a trusted root through
// SSL_CERT_FILE, before anything loads the system roots, so that the SDK's
// default transport verifies the peak servers as it would the gateway: no
// WithHTTPClient, no custom TLS configuration.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ump-bench-roots")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	cert := srv.Certificate()
	srv.Close()
	file := filepath.Join(dir, "httptest-root.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("SSL_CERT_FILE", file)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gatewayLatency is the fixed time the peak servers take to answer: a real
// network round trip to the gateway.
const gatewayLatency = 20 * time.Millisecond

// defaultPeakWindow keeps CI's run of every benchmark short.
const defaultPeakWindow = 500 * time.Millisecond

// envDuration reads a duration from the environment, or returns def.
func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q is not a positive duration", name, v)
	}
	return d
}

// connCounter counts the connections a server accepts.
type connCounter struct{ opened, closed atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		c.opened.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// open is the number of connections open now.
func (c *connCounter) open() int64 { return c.opened.Load() - c.closed.Load() }

// slowMemberServer answers every request with the member example after
// latency, over TLS (HTTP/1.1, as httptest serves by default), and counts
// its connections.
func slowMemberServer(tb testing.TB, latency time.Duration) (*httptest.Server, *connCounter) {
	answer := memberAnswer(tb)
	conns := &connCounter{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(answer)
	}))
	srv.Config.ConnState = conns.hook
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	return srv, conns
}

// newDefaultSDK returns a client built with the SDK's defaults (its own
// transport) whose token is already stored.
func newDefaultSDK(tb testing.TB, base string, opts ...ump.Option) *ump.Client {
	tb.Helper()
	store := ump.NewMemoryTokenStore()
	if _, err := store.CompareAndSwap(context.Background(), appID, 0, validToken()); err != nil {
		tb.Fatal(err)
	}
	c, err := ump.NewClient(appID, appSecret, append([]ump.Option{ump.WithBaseURL(base), ump.WithTokenStore(store)}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// amplePool is the hand-written client's transport: net/http's defaults
// with an idle pool larger than any number of callers here.
func amplePool() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 4096
	return t
}

// load is what one side measured: the latency of every call and the time
// the callers ran.
type load struct {
	lat     []time.Duration
	elapsed time.Duration
	opened  int64 // connections the server accepted meanwhile
}

func (l *load) add(o load) {
	l.lat = append(l.lat, o.lat...)
	l.elapsed += o.elapsed
	l.opened += o.opened
}

func (l *load) perSecond() float64 { return float64(len(l.lat)) / l.elapsed.Seconds() }

// quantile returns the q-quantile of the latencies in milliseconds; it
// sorts them.
func (l *load) quantile(q float64) float64 {
	if len(l.lat) == 0 {
		return 0
	}
	slices.Sort(l.lat)
	i := min(int(q*float64(len(l.lat))), len(l.lat)-1)
	return float64(l.lat[i]) / float64(time.Millisecond)
}

// sample is one call: when it started, how long it took, and its error.
type sample struct {
	start time.Time
	lat   time.Duration
	err   error
}

// run starts callers goroutines, each calling call in a loop until d has
// passed, and returns every call, failed ones included. ramp > 0 spreads
// the callers' starts over ramp: a warm-up that starts 256 TLS handshakes
// at once on a loaded machine can take longer than the gateway's 3 s
// timestamp check allows. A warm-up also runs past d until every caller
// has made two calls, so that as many connections as callers are open
// however slow the handshakes were.
//
// It returns the calls and, for a warm-up, when the last caller made its
// second call.
func run(callers int, d, ramp time.Duration, warmUp bool, call func() error) ([]sample, time.Time) {
	start := time.Now()
	deadline := start.Add(d)
	per := make([][]sample, callers)
	var warming sync.WaitGroup // callers that have not made two calls yet
	if warmUp {
		warming.Add(callers)
	}
	warm := make(chan struct{})
	var warmAt time.Time
	go func() { warming.Wait(); warmAt = time.Now(); close(warm) }()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ramp > 0 {
				time.Sleep(time.Until(start.Add(ramp * time.Duration(i) / time.Duration(callers))))
			}
			got := make([]sample, 0, int(d/gatewayLatency)+1)
			for n := 1; ; n++ {
				if time.Now().After(deadline) {
					select {
					case <-warm:
						per[i] = got
						return
					default:
					}
				}
				t0 := time.Now()
				err := call()
				got = append(got, sample{t0, time.Since(t0), err})
				if warmUp && n == 2 {
					warming.Done()
				}
			}
		}()
	}
	wg.Wait()
	<-warm
	return slices.Concat(per...), warmAt
}

// drive is run, summed up as a load, with the connections conns saw
// opened meanwhile. A failed call stops the benchmark.
func drive(b *testing.B, callers int, d, ramp time.Duration, warmUp bool, conns *connCounter, call func() error) load {
	b.Helper()
	opened := conns.opened.Load()
	start := time.Now()
	calls, _ := run(callers, d, ramp, warmUp, call)
	out := load{elapsed: time.Since(start), opened: conns.opened.Load() - opened, lat: make([]time.Duration, len(calls))}
	for i, c := range calls {
		if c.err != nil {
			b.Fatal(c.err)
		}
		out.lat[i] = c.lat
	}
	return out
}

// peakSide is one client under test with its own server, so that each
// side's connections are counted apart.
type peakSide struct {
	name  string
	call  func() error
	conns *connCounter
	got   load
}

// BenchmarkPeakTLS is issue 17's table: 64 and 256 callers over TLS, each
// call answered after 20 ms, the SDK with its defaults (sdk) against a
// hand-written net/http client with an ample idle pool (hand), and the SDK
// on the transport it had before (sdk-pool64: 64 idle connections per
// host) to show what the defaults changed. After a warm-up that opens the
// connections, the sides take turns in slices of half a window, in the
// order hand, sdk, sdk-pool64, then backwards, so that each meets the same
// load. Reported, per side: calls/s, p50, p99 and p99.9 in ms, and the
// connections opened in steady state (after the warm-up); and the SDK's
// ratios to the hand-written client.
func BenchmarkPeakTLS(b *testing.B) {
	window := envDuration(b, "UMP_PEAK_WINDOW", defaultPeakWindow)
	for _, callers := range []int{64, 256} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			ctx := context.Background()
			hsrv, hconns := slowMemberServer(b, gatewayLatency)
			ssrv, sconns := slowMemberServer(b, gatewayLatency)
			osrv, oconns := slowMemberServer(b, gatewayLatency)
			floor := newFloor(hsrv.URL, amplePool())
			sdk := newDefaultSDK(b, ssrv.URL)
			old := newSDK(b, osrv.URL, oldDefaultTransport(), validToken())
			sdkCall := func(c *ump.Client) func() error {
				return func() error {
					_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
					return err
				}
			}
			sides := []*peakSide{
				{name: "hand", conns: hconns, call: func() error {
					_, err := floor.getMember(ctx, floorQuery{Phone: phone})
					return err
				}},
				{name: "sdk", conns: sconns, call: sdkCall(sdk)},
				{name: "sdk-pool64", conns: oconns, call: sdkCall(old)},
			}
			for _, s := range sides { // open the connections
				drive(b, callers, window/2, window/4, true, s.conns, s.call)
			}
			b.ResetTimer()
			for i := range b.N {
				order := slices.Clone(sides)
				if i%2 == 1 {
					slices.Reverse(order)
				}
				for range peakSlices / 2 {
					for _, s := range append(order, reversed(order)...) {
						s.got.add(drive(b, callers, window/peakSlices, 0, false, s.conns, s.call))
					}
				}
			}
			b.StopTimer()
			hand := &sides[0].got
			for _, s := range sides {
				g := &s.got
				b.ReportMetric(g.perSecond(), s.name+"-calls/s")
				b.ReportMetric(g.quantile(0.50), s.name+"-p50-ms")
				b.ReportMetric(g.quantile(0.99), s.name+"-p99-ms")
				b.ReportMetric(g.quantile(0.999), s.name+"-p99.9-ms")
				b.ReportMetric(float64(g.opened), s.name+"-new-conns")
				if s.name != "hand" {
					b.ReportMetric(g.perSecond()/hand.perSecond(), s.name+"/hand-calls/s")
					b.ReportMetric(g.quantile(0.99)/hand.quantile(0.99), s.name+"/hand-p99")
				}
			}
		})
	}
}

// peakSlices is how many turns each side takes per round (even): on a
// shared machine the load changes within seconds, and short turns spread
// the changes over all sides.
const peakSlices = 4

func reversed[T any](s []T) []T {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// oldDefaultTransport is the SDK's default transport before issue 17: 64
// idle connections per host.
func oldDefaultTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}
