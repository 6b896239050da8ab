package ump_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/logtest"
	"github.com/greedc/ump-go/umptest"
)

// skewedClock is a local clock that runs skew away from the gateway's.
type skewedClock struct {
	gateway *umptest.Clock
	skew    atomic.Int64
}

func (s *skewedClock) now() time.Time { return s.gateway.Now().Add(time.Duration(s.skew.Load())) }

func (s *skewedClock) set(d time.Duration) { s.skew.Store(int64(d)) }

// clockRig is a gateway and a client whose clock runs skew away from it.
func clockRig(t *testing.T, gatewayClock *umptest.Clock, skew time.Duration, opts ...ump.Option) (*umptest.Server, *ump.Client, *skewedClock, *logtest.Buffer) {
	t.Helper()
	srv := umptest.NewServer(umptest.WithClock(gatewayClock))
	t.Cleanup(srv.Close)
	local := &skewedClock{gateway: gatewayClock}
	local.set(skew)
	logs := new(logtest.Buffer)
	base := []ump.Option{ump.WithClock(local.now), ump.WithLogger(logtest.DebugLogger(logs)),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})}
	return srv, srv.Client(append(base, opts...)...), local, logs
}

func clockCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestClockSkewIsCorrected: a client whose clock is seconds or minutes off
// the gateway's works from its very first call, the token obtain, which has
// no measurement yet: the refusal's Date header gives the offset and the
// call is re-stamped and sent once more. Every score change applies once.
func TestClockSkewIsCorrected(t *testing.T) {
	for _, tc := range []struct {
		name   string
		skew   time.Duration
		moving bool // the gateway's clock follows real time, so round trips take time
	}{
		{"+5s", 5 * time.Second, false},
		{"-5s", -5 * time.Second, false},
		{"+90s", 90 * time.Second, false},
		{"+5s, moving clocks", 5 * time.Second, true},
		{"-90s, moving clocks", -90 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := umptest.NewClock(e2eStart.Add(300 * time.Millisecond))
			if tc.moving {
				gw = &umptest.Clock{}
				gw.Set(e2eStart.Add(300 * time.Millisecond))
			}
			srv, c, _, logs := clockRig(t, gw, tc.skew)
			ctx := clockCtx(t)
			openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 100})
			require.Zero(t, c.ClockOffset(), "nothing measured yet")

			_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
			require.NoError(t, err, "the token obtain and the call, each corrected")
			add, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 50, OutBizNo: "B-1",
				OrderAmount: ump.Yuan(10, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
			require.NoError(t, err)
			require.False(t, add.AlreadyApplied)
			_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 30, OutBizNo: "B-2",
				OrderAmount: ump.Yuan(10, 0), ChangeReason: "test", ChangeEvent: ump.EventSubtract, ChangeID: ump.NewChangeID()})
			require.NoError(t, err)
			_, err = c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: openID, StatementID: add.StatementID,
				RollbackScore: 50, ChangeID: ump.NewChangeID()})
			require.NoError(t, err)

			assert.Equal(t, int64(100+50-30-50), srv.Balance(openID), "each change applied exactly once")
			assert.Len(t, srv.Ledger(openID), 4, "opening balance, +50, -30, rollback")
			require.NoError(t, srv.Audit())
			stats := srv.Stats()
			assert.Equal(t, 1, stats.TokenObtains, "one token issued")
			assert.Equal(t, 2, stats.Calls["dss.auth.token.query"], "the refused obtain and its corrected resend")
			assert.Equal(t, 1, stats.Rejected, "only the first request, stamped before anything was measured")
			assert.Equal(t, 2, stats.Calls["wk.user.event.score.change"], "once measured, every request is stamped right")

			assert.InDelta(t, float64(-tc.skew), float64(c.ClockOffset()), float64(1500*time.Millisecond),
				"ClockOffset is the gateway's clock minus the local one")
			out := logs.String()
			assert.Equal(t, 1, strings.Count(out, "ump: local clock is off the gateway's"), "warned once, not per call:\n%s", out)
			assert.Contains(t, out, "level=WARN")
		})
	}
}

// TestClockSkewFollowsAClockThatMoves: the local clock is right, then jumps
// 90 s ahead (a VM resumed, a manual change): the first call after the jump
// is refused, the refusal's Date header restarts the measurement, and the
// call goes through re-stamped. A second jump back is followed the same way.
func TestClockSkewFollowsAClockThatMoves(t *testing.T) {
	srv, c, local, logs := clockRig(t, umptest.NewClock(e2eStart), 0)
	ctx := clockCtx(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 100})
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	assert.InDelta(t, 0, float64(c.ClockOffset()), float64(time.Second))
	assert.NotContains(t, logs.String(), "ump: local clock is off")

	local.set(90 * time.Second)
	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "B-1",
		OrderAmount: ump.Yuan(1, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
	require.NoError(t, err)
	assert.Equal(t, int64(105), srv.Balance(openID))
	assert.InDelta(t, float64(-90*time.Second), float64(c.ClockOffset()), float64(1500*time.Millisecond))

	local.set(0)
	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "B-2",
		OrderAmount: ump.Yuan(1, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
	require.NoError(t, err)
	assert.Equal(t, int64(110), srv.Balance(openID))
	assert.InDelta(t, 0, float64(c.ClockOffset()), float64(1500*time.Millisecond))
	assert.Equal(t, 2, srv.Stats().Rejected, "one refusal per jump")
	assert.Equal(t, 4, srv.Stats().Calls["wk.user.event.score.change"], "each change refused once, then applied once")
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "ump: local clock is off the gateway's"), out)
	assert.Equal(t, 1, strings.Count(out, "ump: local clock back within a second"), out)
}

// TestClockSkewConcurrentStart: many calls at once from a client whose
// clock is off, before anything is measured: each is refused at most once,
// every change applies exactly once.
func TestClockSkewConcurrentStart(t *testing.T) {
	srv, c, _, _ := clockRig(t, umptest.NewClock(e2eStart), -7*time.Second)
	ctx := clockCtx(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 0})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 1, OutBizNo: "B",
				OrderAmount: ump.Yuan(1, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int64(16), srv.Balance(openID))
	require.NoError(t, srv.Audit())
	assert.Equal(t, 1, srv.Stats().TokenObtains)
	assert.LessOrEqual(t, srv.Stats().Calls["wk.user.event.score.change"], 32, "at most one resend each")
}

// TestClockSkewWithCorrectionOff: the offset is still measured, and a
// refusal of a timestamp measured more than 3 s off matches ErrClockSkew
// and names the offset; nothing is sent again and nothing applies.
func TestClockSkewWithCorrectionOff(t *testing.T) {
	srv, c, local, logs := clockRig(t, umptest.NewClock(e2eStart), 0, ump.WithClockSkewCorrection(false))
	ctx := clockCtx(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 100})
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}) // a token, on a right clock
	require.NoError(t, err)

	local.set(5 * time.Second)
	srv.ResetStats()
	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "B-1",
		OrderAmount: ump.Yuan(1, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
	require.ErrorIs(t, err, ump.ErrClockSkew)
	var apiErr *ump.APIError
	require.ErrorAs(t, err, &apiErr, "still the gateway's refusal, code and all")
	assert.Contains(t, err.Error(), "clock skew: the local clock is "+(-c.ClockOffset()).String()+
		" ahead of the gateway's (measured offset "+c.ClockOffset().String())
	assert.True(t, ump.Retryable(err))
	assert.Equal(t, 1, srv.Stats().Calls["wk.user.event.score.change"], "not sent again")
	assert.Equal(t, int64(100), srv.Balance(openID))
	assert.InDelta(t, float64(-5*time.Second), float64(c.ClockOffset()), float64(1500*time.Millisecond))
	assert.Contains(t, logs.String(), "corrected=false")

	// The very first call, the obtain, says the same.
	srv2, c2, _, _ := clockRig(t, umptest.NewClock(e2eStart), -5*time.Second, ump.WithClockSkewCorrection(false))
	_, err = c2.Member.Get(ctx, &ump.MemberQuery{Phone: "13800000001"})
	require.ErrorIs(t, err, ump.ErrClockSkew)
	assert.Contains(t, err.Error(), "clock skew: the local clock is "+c2.ClockOffset().String()+
		" behind the gateway's (measured offset "+c2.ClockOffset().String())
	assert.InDelta(t, float64(5*time.Second), float64(c2.ClockOffset()), float64(1500*time.Millisecond))
	assert.Equal(t, 1, srv2.Stats().Calls["dss.auth.token.query"], "not sent again")
}

// TestClockSkewWithoutDate: answers without a Date header (a proxy strips
// it) leave the clock unmeasured; a refusal that may be a bad timestamp says
// so, and a business refusal does not.
func TestClockSkewWithoutDate(t *testing.T) {
	srv, c, local, _ := clockRig(t, umptest.NewClock(e2eStart), 5*time.Second)
	srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.NoDate})
	ctx := clockCtx(t)
	_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: "13800000001"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the local clock could not be checked: the gateway's answers carry no Date header")
	assert.NotErrorIs(t, err, ump.ErrClockSkew)
	assert.Zero(t, c.ClockOffset())
	assert.Equal(t, 1, srv.Stats().Calls["dss.auth.token.query"], "no measurement, no resend")

	// On a right clock (and a client that did not spend its token call),
	// a business refusal carries no clause.
	c = srv.Client(ump.WithClock(local.now))
	local.set(0)
	openID := srv.AddMember(umptest.Member{Phone: "13800000002", Score: 1})
	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "B-1",
		OrderAmount: ump.Yuan(1, 0), ChangeReason: "test", ChangeEvent: ump.EventSubtract, ChangeID: ump.NewChangeID()})
	require.ErrorIs(t, err, ump.ErrInsufficientPoints)
	assert.NotContains(t, err.Error(), "clock", "a business refusal is no clock trouble")
}
