package ump

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClockSkew matches a refusal (an *APIError) of a request whose timestamp
// was, by the gateway's clock as measured from the Date headers of its
// answers, more than 3 s off: the window the platform accepts. It happens
// when the local clock is off and WithClockSkewCorrection(false) is set, or
// when the clock moved between the correction and the call. The error's text
// gives the measured offset; Client.ClockOffset returns it.
var ErrClockSkew = errors.New("ump: local clock off the gateway's")

// Bounds of clock measurement and correction.
const (
	// clockSampleMaxRTT: a slower round trip bounds the offset too
	// loosely to be worth a sample (aws-sdk-go-v2 uses no sample it cannot
	// trust either).
	clockSampleMaxRTT = 2 * time.Second
	// clockWindow is how far from the gateway's clock the platform
	// accepts a timestamp ("北京时间3秒内").
	clockWindow = 3 * time.Second
	// clockResendAbove: a refusal is re-stamped and sent again only when
	// its timestamp was, by the measurement made since, this far off the
	// gateway's clock: an uncorrected stamp of a clock this far off, or a
	// correction the clock has since moved away from. A stamp closer the
	// gateway accepts, so the refusal had another cause.
	clockResendAbove = 2 * time.Second
	// clockWarnAbove: a measured offset this large is logged at WARN, once
	// per change of clockWarnAbove or more.
	clockWarnAbove = time.Second
)

// WithClockSkewCorrection turns the correction of the local clock on (the
// default) or off. On, the Client learns the gateway's clock from the Date
// header of its answers, stamps every request's timestamp with the local
// clock plus the measured offset, and sends a refused request once more,
// re-stamped and re-signed, when its timestamp was stamped with a correction
// the measurement has since shown to be seconds off. The gateway checks the
// timestamp before it applies anything, so the second copy cannot apply
// twice. Off, the offset is still measured (Client.ClockOffset, ErrClockSkew)
// but timestamps come from the local clock alone.
func WithClockSkewCorrection(on bool) Option {
	return func(s *settings) error {
		s.noClockCorrection = !on
		return nil
	}
}

// ClockOffset returns the gateway's clock minus the local clock (WithClock,
// time.Now by default) as measured from the Date headers of the gateway's
// answers: the middle of the interval the measurements leave, which is
// about a second wide at worst. It is 0 until an answer with a usable Date
// header was seen.
func (c *Client) ClockOffset() time.Duration {
	return c.built().clock.offset()
}

// gatewayClock learns the offset of the gateway's clock from the local one.
//
// An answer's Date header is the gateway's time, truncated to the second,
// at some moment between the request's send and the answer's receipt on
// the local clock. So the offset (gateway minus local) lies in
// [Date - received, Date + 1s - sent]. Every usable answer gives such an
// interval; their intersection narrows the estimate. An answer whose
// interval misses the current estimate means a clock moved: the estimate
// restarts from it. Answers with an Age header (served by a cache) or a
// round trip over clockSampleMaxRTT are not used.
//
// Reading the offset takes no lock; an answer that narrows nothing costs
// a few atomic loads and allocates nothing.
type gatewayClock struct {
	correct bool // stamp with the offset and resend a refusal: WithClockSkewCorrection

	sawDate atomic.Bool  // some answer carried a Date header
	known   atomic.Bool  // lo, hi and mid hold a measurement
	lo, hi  atomic.Int64 // the offset's interval, in nanoseconds; written under mu
	mid     atomic.Int64 // (lo+hi)/2, the estimate; written under mu

	mu     sync.Mutex
	warned bool          // the estimate was last logged at WARN (over clockWarnAbove)
	logged time.Duration // the estimate last logged
}

// clockChange is what one answer changed in the estimate.
type clockChange struct {
	changed bool          // the estimate moved (narrowed or restarted)
	offset  time.Duration // the new estimate
	// warn: the offset is over clockWarnAbove and moved by that much since
	// it was last logged; settled: it fell back under clockWarnAbove after
	// a warning.
	warn, settled bool
}

// offset returns the estimate, 0 before any measurement.
func (g *gatewayClock) offset() time.Duration {
	return time.Duration(g.mid.Load())
}

// correction returns what to add to the local clock for a timestamp: the
// estimate, or 0 when correction is off or nothing was measured.
func (g *gatewayClock) correction() time.Duration {
	if !g.correct {
		return 0
	}
	return g.offset()
}

// observe takes the offset's bounds from an answer's headers, given the
// local times the request was sent and its answer received.
func (g *gatewayClock) observe(h http.Header, sent, received time.Time) clockChange {
	dates := h["Date"]
	if len(dates) == 0 {
		return clockChange{}
	}
	if !g.sawDate.Load() {
		g.sawDate.Store(true)
	}
	if len(h["Age"]) > 0 {
		return clockChange{}
	}
	rtt := received.Sub(sent)
	if rtt < 0 || rtt > clockSampleMaxRTT {
		return clockChange{}
	}
	date, ok := parseHTTPDate(dates[0])
	if !ok {
		return clockChange{}
	}
	lo, hi := int64(date.Sub(received)), int64(date.Add(time.Second).Sub(sent))
	if g.known.Load() && lo <= g.lo.Load() && hi >= g.hi.Load() {
		return clockChange{} // narrows nothing: the common case once measured
	}
	return g.narrow(lo, hi)
}

// narrow intersects the estimate with [lo, hi], or restarts it there when
// they do not meet.
func (g *gatewayClock) narrow(lo, hi int64) clockChange {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.known.Load() {
		curLo, curHi := g.lo.Load(), g.hi.Load()
		if max(lo, curLo) <= min(hi, curHi) {
			lo, hi = max(lo, curLo), min(hi, curHi)
		}
		if lo == curLo && hi == curHi {
			return clockChange{}
		}
	}
	g.lo.Store(lo)
	g.hi.Store(hi)
	mid := time.Duration(lo + (hi-lo)/2)
	g.mid.Store(int64(mid))
	g.known.Store(true)

	ch := clockChange{changed: true, offset: mid}
	switch {
	case mid.Abs() > clockWarnAbove && (!g.warned || (mid-g.logged).Abs() >= clockWarnAbove):
		ch.warn, g.warned, g.logged = true, true, mid
	case mid.Abs() <= clockWarnAbove && g.warned:
		ch.settled, g.warned, g.logged = true, false, mid
	}
	return ch
}

// resends reports whether a request stamped with the correction stamped,
// which ended with verdict v and error err, is to be re-stamped, re-signed
// and sent once more: it was refused, correction is on, and the measured
// offset (learnt from this very answer, if not before) says the timestamp
// was more than clockResendAbove off the gateway's clock: stamped without a
// correction while the clock is that far off, or with a correction the
// clock has since moved away from.
func (g *gatewayClock) resends(v verdict, err error, stamped time.Duration) bool {
	if !g.correct || err == nil || !g.known.Load() {
		return false
	}
	if (g.offset() - stamped).Abs() <= clockResendAbove {
		return false
	}
	return refused(v, err)
}

// refused reports a definite refusal: an error envelope, or an HTTP 4xx or
// 5xx the gateway or a proxy answered without applying the call. Ambiguous
// endings (no answer, a 502 page that may follow an applied call) are not,
// nor is "system busy", which the gateway may answer after it accepted the
// timestamp (a keyed write may even have applied): the endpoint's retry
// class decides about it, and a retry is stamped with the new correction.
func refused(v verdict, err error) bool {
	if v == ambiguous || v == notSent || v == busy {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return true
	}
	var respErr *ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatus >= 400
}

// explain adds to a refusal what the clock says about it. A refusal of a
// request stamped more than clockWindow off the measured gateway time
// matches ErrClockSkew and names the offset. Without a measurement, a
// refusal that may be the gateway's answer to a bad timestamp (its code is
// none of the document's business refusals: the document names no code for
// a bad timestamp) says that the clock could not be checked.
func (g *gatewayClock) explain(err error, stamped time.Duration) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	if g.known.Load() {
		off := g.offset()
		if skew := off - stamped; skew.Abs() > clockWindow {
			apiErr.clockSkew = true
			apiErr.clockNote = "clock skew: " + describeOffset(off)
			if stamped != 0 {
				apiErr.clockNote += "; the timestamp was corrected by " + stamped.Round(time.Millisecond).String() + " only"
			}
		}
		return err
	}
	if !apiErr.timestampPlausible() {
		return err
	}
	if g.sawDate.Load() {
		apiErr.clockNote = "the local clock could not be checked: no answer with a Date header came back fast enough to measure it"
	} else {
		apiErr.clockNote = "the local clock could not be checked: the gateway's answers carry no Date header"
	}
	return err
}

// timestampPlausible reports whether the refusal may be the gateway's
// answer to a bad timestamp: a code no table of the document lists,
// "invalid parameters" or a token rejection; not "system busy" nor another
// of the document's business refusals (in the call's own meaning of its
// codes).
func (e *APIError) timestampPlausible() bool {
	s := sentinelFor(e.Method, e.Code)
	return s == nil || s == ErrInvalidParameters || e.tokenInvalid
}

// describeOffset says in words which clock is ahead, and gives the offset
// as ClockOffset reports it.
func describeOffset(off time.Duration) string {
	dir := "behind"
	if off < 0 {
		dir = "ahead of"
	}
	return "the local clock is " + off.Abs().Round(time.Millisecond).String() + " " + dir +
		" the gateway's (measured offset " + off.Round(time.Millisecond).String() + ", from its Date headers)"
}

// learnClock feeds an answer's headers to the clock and reports a change.
func (c *Client) learnClock(ctx context.Context, h http.Header, sent, received time.Time) {
	if ch := c.clock.observe(h, sent, received); ch.changed {
		c.clockOffsetChanged(ctx, ch)
	}
}

// clockOffsetChanged is the one place where the request path learns that
// the measured offset changed: it logs an offset over clockWarnAbove at
// WARN (once per change of a second or more, not per call), and is where
// an observer of the offset (a ClockOffset hook) is told.
func (c *Client) clockOffsetChanged(ctx context.Context, ch clockChange) {
	c.noteClockOffset(ctx, ch.offset)
	switch {
	case ch.warn:
		c.log.LogAttrs(ctx, slog.LevelWarn, "ump: local clock is off the gateway's",
			slog.Duration("gateway_minus_local", ch.offset), slog.Bool("corrected", c.clock.correct))
	case ch.settled:
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: local clock back within a second of the gateway's",
			slog.Duration("gateway_minus_local", ch.offset))
	}
}

// logClockResend logs a refusal sent again with a corrected timestamp.
func (c *Client) logClockResend(ctx context.Context, ep *endpoint, stamped time.Duration, err error) {
	c.log.LogAttrs(ctx, slog.LevelInfo, "ump: refused with a timestamp off the gateway's clock; re-stamped and sent again",
		slog.String("method", ep.method), slog.Duration("stamped_with", stamped),
		slog.Duration("gateway_minus_local", c.clock.offset()), slog.String("error", err.Error()))
}

// months maps the three-letter month names of an HTTP date.
var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseHTTPDate parses a Date header. The fixed form every server sends
// (http.TimeFormat, "Mon, 02 Jan 2006 15:04:05 GMT") is read without
// allocating, unlike time.Parse, which allocates a zone for "GMT"; the
// obsolete forms go to http.ParseTime.
func parseHTTPDate(s string) (time.Time, bool) {
	if len(s) != len(http.TimeFormat) || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		t, err := http.ParseTime(s)
		return t, err == nil
	}
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	hour, ok3 := digits(s[17:19])
	minute, ok4 := digits(s[20:22])
	sec, ok5 := digits(s[23:25])
	month := 0
	for i, m := range months {
		if s[8:11] == m {
			month = i + 1
		}
	}
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || month == 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

// digits parses a short run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
