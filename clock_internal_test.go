package ump

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dateHeader is the header of an answer the gateway stamped at gw.
func dateHeader(gw time.Time) http.Header {
	return http.Header{"Date": {gw.UTC().Format(http.TimeFormat)}}
}

var clockBase = time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC)

func TestGatewayClockIntersectsSamples(t *testing.T) {
	var g gatewayClock
	// The gateway is 4.3 s ahead. A sample taken at .0 local bounds the
	// offset to [Date-recv, Date+1s-sent].
	truth := 4300 * time.Millisecond
	sent := clockBase
	ch := g.observe(dateHeader(sent.Add(50*time.Millisecond+truth)), sent, sent.Add(100*time.Millisecond))
	require.True(t, ch.changed)
	require.True(t, ch.warn, "over a second: logged")
	assert.Equal(t, int64(4*time.Second-100*time.Millisecond), g.lo.Load())
	assert.Equal(t, int64(5*time.Second), g.hi.Load())
	assert.Equal(t, 4450*time.Millisecond, g.offset())

	// Later samples at other phases of the second narrow it.
	for _, ms := range []int{150, 650, 720, 690, 300, 999} {
		sent = sent.Add(time.Second + time.Duration(ms)*time.Millisecond)
		ch = g.observe(dateHeader(sent.Add(10*time.Millisecond+truth)), sent, sent.Add(20*time.Millisecond))
		assert.False(t, ch.warn, "no WARN while the estimate moves by less than a second")
	}
	lo, hi := time.Duration(g.lo.Load()), time.Duration(g.hi.Load())
	assert.LessOrEqual(t, lo, truth)
	assert.GreaterOrEqual(t, hi, truth)
	assert.Less(t, hi-lo, 400*time.Millisecond, "[%v, %v]", lo, hi)
	assert.InDelta(t, float64(truth), float64(g.offset()), float64(100*time.Millisecond))
}

func TestGatewayClockRestartsWhenAClockMoves(t *testing.T) {
	var g gatewayClock
	g.observe(dateHeader(clockBase.Add(5*time.Second)), clockBase, clockBase)
	assert.Equal(t, 5500*time.Millisecond, g.offset())
	ch := g.observe(dateHeader(clockBase.Add(5*time.Second)), clockBase, clockBase)
	assert.False(t, ch.changed, "the same sample narrows nothing")

	// The gateway's clock (or ours) jumped: the samples no longer meet.
	ch = g.observe(dateHeader(clockBase.Add(-90*time.Second)), clockBase, clockBase)
	require.True(t, ch.changed)
	assert.True(t, ch.warn)
	assert.Equal(t, -89500*time.Millisecond, g.offset())

	ch = g.observe(dateHeader(clockBase), clockBase, clockBase)
	require.True(t, ch.changed)
	assert.True(t, ch.settled, "back under a second after a warning")
	assert.False(t, ch.warn)
	ch = g.observe(dateHeader(clockBase.Add(2*time.Second)), clockBase, clockBase)
	assert.True(t, ch.warn, "over a second again")
}

func TestGatewayClockSkipsUntrustworthyAnswers(t *testing.T) {
	var g gatewayClock
	h := dateHeader(clockBase.Add(time.Minute))
	assert.False(t, g.observe(h, clockBase, clockBase.Add(3*time.Second)).changed, "slow round trip")
	assert.False(t, g.observe(h, clockBase, clockBase.Add(-time.Millisecond)).changed, "received before sent")
	cached := dateHeader(clockBase.Add(time.Minute))
	cached.Set("Age", "30")
	assert.False(t, g.observe(cached, clockBase, clockBase).changed, "served by a cache")
	assert.False(t, g.observe(http.Header{"Date": {"yesterday"}}, clockBase, clockBase).changed, "unreadable")
	assert.False(t, g.known.Load())
	assert.True(t, g.sawDate.Load())
	assert.Zero(t, g.offset())

	var none gatewayClock
	none.observe(http.Header{}, clockBase, clockBase)
	assert.False(t, none.sawDate.Load())
}

func TestGatewayClockCorrectionAndResend(t *testing.T) {
	refusal := &APIError{Method: "m", HTTPStatus: 200, Code: 40001}
	g := gatewayClock{correct: true}
	assert.Zero(t, g.correction(), "nothing measured")
	assert.False(t, g.resends(done, refusal, 0), "nothing measured")
	g.observe(dateHeader(clockBase.Add(-5*time.Second)), clockBase, clockBase)
	assert.Equal(t, -4500*time.Millisecond, g.correction())

	for _, tc := range []struct {
		name    string
		v       verdict
		err     error
		stamped time.Duration
		want    bool
	}{
		{"refused, stamped uncorrected", done, refusal, 0, true},
		{"refused, stamped with the correction", done, refusal, -4500 * time.Millisecond, false},
		{"refused, stamped with an old correction", done, refusal, 2 * time.Second, true},
		{"busy: the retry class decides", busy, &APIError{Code: 500}, 0, false},
		{"token rejected", tokenRejected, &APIError{HTTPStatus: 401, tokenInvalid: true}, 0, true},
		{"proxy refusal", done, &ResponseError{HTTPStatus: 403, Err: errors.New("x")}, 0, true},
		{"success", done, nil, 0, false},
		{"ambiguous", ambiguous, &ResponseError{HTTPStatus: 502, Err: errors.New("x")}, 0, false},
		{"not sent", notSent, &TransportError{Err: errors.New("dial")}, 0, false},
		{"no refusal", done, &ResponseError{HTTPStatus: 200, Err: errors.New("x")}, 0, false},
	} {
		assert.Equal(t, tc.want, g.resends(tc.v, tc.err, tc.stamped), tc.name)
	}

	off := gatewayClock{correct: false}
	off.observe(dateHeader(clockBase.Add(-5*time.Second)), clockBase, clockBase)
	assert.Zero(t, off.correction())
	assert.False(t, off.resends(done, refusal, 0), "correction off")
	assert.Equal(t, -4500*time.Millisecond, off.offset(), "measured all the same")
}

func TestGatewayClockExplain(t *testing.T) {
	var unmeasured gatewayClock
	for code, plausible := range map[int64]bool{40001: true, 1001: true, 1003: true, 500: false, 150003: false, 110003: false} {
		err := unmeasured.explain(fmt.Errorf("w: %w", &APIError{Method: "m", Code: code}), 0)
		assert.Equal(t, plausible, errors.Is(err, err) && containsClause(err), "code %d: %v", code, err)
		assert.NotErrorIs(t, err, ErrClockSkew)
	}
	busyHere := unmeasured.explain(&APIError{Method: "wk.user.code.generate", Code: 1001}, 0)
	assert.False(t, containsClause(busyHere), "3.6's 1001 is system busy")
	rejected := unmeasured.explain(&APIError{Method: "m", HTTPStatus: 401, tokenInvalid: true}, 0)
	assert.Contains(t, rejected.Error(), "no Date header")
	notAPI := &ResponseError{Method: "m", HTTPStatus: 403, Err: errors.New("forbidden")}
	assert.Equal(t, notAPI.Error(), unmeasured.explain(notAPI, 0).Error(), "a proxy checks no timestamp")

	unmeasured.sawDate.Store(true)
	assert.Contains(t, unmeasured.explain(&APIError{Method: "m", Code: 1003}, 0).Error(), "came back fast enough")

	var g gatewayClock
	g.observe(dateHeader(clockBase.Add(10*time.Second)), clockBase, clockBase)
	err := g.explain(&APIError{Method: "m", Code: 150003}, 0)
	require.ErrorIs(t, err, ErrClockSkew, "stamped 10 s off: whatever the code, the timestamp was off")
	require.ErrorIs(t, err, ErrInsufficientPoints)
	assert.Equal(t, "ump: m: error 150003 (insufficient points); clock skew: the local clock is 10.5s behind the gateway's (measured offset 10.5s, from its Date headers)", err.Error())
	err = g.explain(&APIError{Method: "m", Code: 1003}, 5*time.Second)
	assert.Contains(t, err.Error(), "; the timestamp was corrected by 5s only")
	assert.NotErrorIs(t, g.explain(&APIError{Method: "m", Code: 150003}, 10*time.Second), ErrClockSkew, "stamped right")
	assert.NotContains(t, g.explain(&APIError{Method: "m", Code: 150003}, 10*time.Second).Error(), "clock")
	assert.NoError(t, g.explain(nil, 0))
}

func containsClause(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.clockNote != ""
}

// TestGatewayClockAllocatesNothing: reading the offset, and an answer that
// narrows nothing, allocate nothing (the request path's every call).
func TestGatewayClockAllocatesNothing(t *testing.T) {
	var g gatewayClock
	h := dateHeader(clockBase)
	g.observe(h, clockBase, clockBase)
	allocs := testing.AllocsPerRun(100, func() {
		g.observe(h, clockBase, clockBase)
		_ = g.correction()
	})
	assert.Zero(t, allocs)
	var changing gatewayClock
	i := 0
	allocs = testing.AllocsPerRun(100, func() {
		i++
		sent := clockBase.Add(time.Duration(i) * time.Microsecond)
		if !changing.observe(h, sent, sent).changed {
			t.Fatal("every sample narrows the estimate")
		}
	})
	assert.Zero(t, allocs, "a change takes a lock, and no allocation")
}

// TestGatewayClockConcurrent is for the race detector: answers and reads
// from many goroutines, the estimate always an interval holding the truth.
func TestGatewayClockConcurrent(t *testing.T) {
	var g gatewayClock
	truth := 1700 * time.Millisecond
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				sent := clockBase.Add(time.Duration(w*977+i*131) * time.Millisecond)
				g.observe(dateHeader(sent.Add(truth+time.Millisecond)), sent, sent.Add(2*time.Millisecond))
				_ = g.correction()
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, time.Duration(g.lo.Load()), truth)
	assert.GreaterOrEqual(t, time.Duration(g.hi.Load()), truth)
	assert.InDelta(t, float64(truth), float64(g.offset()), float64(50*time.Millisecond))
}

func TestParseHTTPDate(t *testing.T) {
	for _, s := range []string{
		"Wed, 01 May 2024 02:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 31 Dec 2026 23:59:59 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", // the obsolete forms, via http.ParseTime
	} {
		want, err := http.ParseTime(s)
		require.NoError(t, err, s)
		got, ok := parseHTTPDate(s)
		require.True(t, ok, s)
		assert.True(t, want.Equal(got), "%s: %v, want %v", s, got, want)
	}
	for _, s := range []string{"", "Wed, 01 Foo 2024 02:00:00 GMT", "Wed, 01 May 2024 25:00:00 GMT",
		"Wed, 0x May 2024 02:00:00 GMT", "Wed, 01 May 2024 02:00:00 UTC", "Wed, 00 May 2024 02:00:00 GMT"} {
		_, ok := parseHTTPDate(s)
		assert.False(t, ok, s)
	}
	s := "Wed, 01 May 2024 02:00:00 GMT"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = parseHTTPDate(s) }))
}

// BenchmarkGatewayClockObserve is the clock's cost per answer once the
// estimate has settled: parse the Date header, find it narrows nothing.
func BenchmarkGatewayClockObserve(b *testing.B) {
	var g gatewayClock
	h := dateHeader(clockBase)
	g.observe(h, clockBase, clockBase)
	b.ReportAllocs()
	for b.Loop() {
		g.observe(h, clockBase, clockBase)
	}
}
