// Package bench_test measures the SDK's cost per call against the floor: the
// same signed request written by hand with net/http and encoding/json (see
// floor_test.go). Each benchmark has an impl=floor and an impl=sdk
// sub-benchmark against the same server, so that benchstat -col /impl puts
// them side by side; the Alternating benchmarks run both sides call by call
// in one loop and report the time ratio themselves (sdk/floor), which holds
// up better on a busy machine. scripts/bench.sh runs them all and prints the
// ratios.
//
// peak_test.go, refresh_test.go and memory_test.go measure the SDK at peak
// load instead: many callers over TLS, a token refresh under load, and
// memory over long runs (README.md has the latest figures).
package bench_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
)

// Credentials of the benchmark app.
const (
	appID        = "wkb1ag2hdad7e6jw1r"
	appSecret    = "S3cr3t-App-Secret-For-Benchmarks-0123456789"
	accessToken  = "atB1ABA5C50C41C5FEE3E911EC8020C32C"
	refreshToken = "rt5ED02D25F23917092218565B9DDAF657"
	phone        = "15980944959"
)

// memberAnswer is section 3.2's example answer.
func memberAnswer(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "member-get.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// newHTTPTransport is the one transport configuration both sides use: the
// SDK gets it through ump.WithHTTPClient, the floor uses it directly. The
// settings are the SDK's defaults.
func newHTTPTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = math.MaxInt
	return t
}

// memberServer answers every request with the member example, after reading
// the request body, as the gateway would.
func memberServer(tb testing.TB) *httptest.Server {
	answer := memberAnswer(tb)
	length := strconv.Itoa(len(answer))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = []string{"application/json;charset=UTF-8"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(answer)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// stubTransport answers in memory, without a network: it isolates what the
// client itself costs.
type stubTransport struct{ answer []byte }

func (s stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json;charset=UTF-8"}},
		Body:          io.NopCloser(bytes.NewReader(s.answer)),
		ContentLength: int64(len(s.answer)), Request: r,
	}, nil
}

// validToken is a token record that needs no renewal during a benchmark.
func validToken() ump.Token {
	now := time.Now()
	return ump.Token{
		AccessToken: accessToken, RefreshToken: refreshToken,
		AccessExpiresAt: now.Add(2 * time.Hour), RefreshExpiresAt: now.Add(300 * 24 * time.Hour),
	}
}

// newSDK returns a client for base whose token is already cached.
func newSDK(tb testing.TB, base string, rt http.RoundTripper, tok ump.Token, opts ...ump.Option) *ump.Client {
	tb.Helper()
	store := ump.NewMemoryTokenStore()
	if _, err := store.CompareAndSwap(context.Background(), appID, 0, tok); err != nil {
		tb.Fatal(err)
	}
	base2 := []ump.Option{ump.WithBaseURL(base), ump.WithTokenStore(store), ump.WithHTTPClient(&http.Client{Transport: rt})}
	c, err := ump.NewClient(appID, appSecret, append(base2, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func newFloor(base string, rt http.RoundTripper) *floorClient {
	return &floorClient{hc: &http.Client{Transport: rt, Timeout: ump.DefaultTimeout}, base: base, token: accessToken, secret: appSecret}
}

// pair builds the two sides against one server or stub.
func pair(tb testing.TB, base string, rt func() http.RoundTripper) (*ump.Client, *floorClient) {
	return newSDK(tb, base, rt(), validToken()), newFloor(base, rt())
}

func loopback(b *testing.B) (*ump.Client, *floorClient) {
	srv := memberServer(b)
	return pair(b, srv.URL, func() http.RoundTripper { return newHTTPTransport() })
}

func stub(b *testing.B) (*ump.Client, *floorClient) {
	answer := memberAnswer(b)
	return pair(b, "http://gateway.invalid", func() http.RoundTripper { return stubTransport{answer} })
}

// runPair runs the floor first, then the SDK, one after the other in the
// same process.
func runPair(b *testing.B, sdk *ump.Client, floor *floorClient, parallel bool) {
	ctx := context.Background()
	sdkCall := func() error {
		m, err := sdk.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
		if err == nil && m.UserNum == "" {
			b.Fatal("sdk: empty member")
		}
		return err
	}
	floorCall := func() error {
		m, err := floor.getMember(ctx, floorQuery{Phone: phone})
		if err == nil && m.UserNum == "" {
			b.Fatal("floor: empty member")
		}
		return err
	}
	for _, side := range []struct {
		name string
		call func() error
	}{{"impl=floor", floorCall}, {"impl=sdk", sdkCall}} {
		b.Run(side.name, func(b *testing.B) {
			if err := side.call(); err != nil { // connect outside the timing
				b.Fatal(err)
			}
			b.ReportAllocs()
			if !parallel {
				for b.Loop() {
					if err := side.call(); err != nil {
						b.Fatal(err)
					}
				}
				return
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := side.call(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// calls returns one Member.Get through the SDK and one through the floor.
func calls(b *testing.B, sdk *ump.Client, floor *floorClient) (sdkCall, floorCall func() error) {
	ctx := context.Background()
	sdkCall = func() error {
		_, err := sdk.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
		return err
	}
	floorCall = func() error {
		_, err := floor.getMember(ctx, floorQuery{Phone: phone})
		return err
	}
	for _, call := range []func() error{floorCall, sdkCall} { // connect outside the timing
		if err := call(); err != nil {
			b.Fatal(err)
		}
	}
	return sdkCall, floorCall
}

// alternate makes one floor call and one SDK call per iteration, in turns
// first, timing each, and reports the ratio of the summed times as
// sdk/floor. On a shared machine both sides then meet the same load within
// microseconds, which makes this ratio steadier than one of two benchmarks
// run a second apart. ns/op is the pair's time and means little.
func alternate(b *testing.B, sdk, floor func() error, parallel bool) {
	var sdkNS, floorNS, pairs atomic.Int64
	loop := func(next func() bool) {
		var s, f, n int64
		for next() {
			first, second := floor, sdk
			if n%2 == 1 {
				first, second = sdk, floor
			}
			t0 := time.Now()
			err1 := first()
			t1 := time.Now()
			err2 := second()
			t2 := time.Now()
			if err := errors.Join(err1, err2); err != nil {
				b.Error(err)
				return
			}
			if n%2 == 1 {
				s, f = s+int64(t1.Sub(t0)), f+int64(t2.Sub(t1))
			} else {
				f, s = f+int64(t1.Sub(t0)), s+int64(t2.Sub(t1))
			}
			n++
		}
		sdkNS.Add(s)
		floorNS.Add(f)
		pairs.Add(n)
	}
	b.ReportAllocs()
	if parallel {
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) { loop(pb.Next) })
	} else {
		loop(b.Loop)
	}
	if n := pairs.Load(); n > 0 && floorNS.Load() > 0 {
		b.ReportMetric(float64(sdkNS.Load())/float64(floorNS.Load()), "sdk/floor")
		b.ReportMetric(float64(sdkNS.Load())/float64(n), "sdk-ns/call")
		b.ReportMetric(float64(floorNS.Load())/float64(n), "floor-ns/call")
	}
}

// BenchmarkMemberGetAlternating is BenchmarkMemberGet with the two sides
// alternating call by call; see alternate.
func BenchmarkMemberGetAlternating(b *testing.B) {
	sdk, floor := loopback(b)
	s, f := calls(b, sdk, floor)
	alternate(b, s, f, false)
}

// BenchmarkMemberGetParallelAlternating is BenchmarkMemberGetParallel with
// the two sides alternating call by call in every goroutine.
func BenchmarkMemberGetParallelAlternating(b *testing.B) {
	sdk, floor := loopback(b)
	s, f := calls(b, sdk, floor)
	alternate(b, s, f, true)
}

// BenchmarkMemberGet is one Member.Get against a local HTTP server, the
// SDK against the hand-written floor.
func BenchmarkMemberGet(b *testing.B) {
	sdk, floor := loopback(b)
	runPair(b, sdk, floor, false)
}

// BenchmarkMemberGetParallel is BenchmarkMemberGet from GOMAXPROCS
// goroutines at once.
func BenchmarkMemberGetParallel(b *testing.B) {
	sdk, floor := loopback(b)
	runPair(b, sdk, floor, true)
}

// BenchmarkMemberGetStub is BenchmarkMemberGet with an in-memory transport:
// no network, no server, so the clients' own costs stand out.
func BenchmarkMemberGetStub(b *testing.B) {
	sdk, floor := stub(b)
	runPair(b, sdk, floor, false)
}

// BenchmarkSign is the floor's signing; the SDK's is BenchmarkSign in the
// root package.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"phone":"15980944959"}`)
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	b.Run("impl=floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = signFloor(accessToken, ts, body, appSecret)
		}
	})
}

// BenchmarkDecodeMember is the floor's decoding of the member answer; the
// SDK's is BenchmarkDecodeMember in the root package.
func BenchmarkDecodeMember(b *testing.B) {
	answer := memberAnswer(b)
	b.Run("impl=floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeFloor(answer); err != nil {
				b.Fatal(err)
			}
		}
	})
}
