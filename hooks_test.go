package ump_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// hookLog records what the hooks are handed, in order.
type hookLog struct {
	mu       sync.Mutex
	starts   []ump.CallStartInfo
	dones    []ump.CallDoneInfo
	attempts []ump.AttemptDoneInfo
	tokens   []ump.TokenCallInfo
	outbox   []ump.OutboxState
}

type spanKey struct{}

func (l *hookLog) hooks(includeKeys bool) ump.Hooks {
	return ump.Hooks{
		IncludeKeys: includeKeys,
		CallStart: func(ctx context.Context, s ump.CallStartInfo) context.Context {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.starts = append(l.starts, s)
			return context.WithValue(ctx, spanKey{}, s.Method)
		},
		CallDone: func(ctx context.Context, d ump.CallDoneInfo) {
			l.mu.Lock()
			defer l.mu.Unlock()
			if ctx.Value(spanKey{}) != d.Method {
				panic("CallDone did not get the context CallStart returned")
			}
			l.dones = append(l.dones, d)
		},
		AttemptDone: func(_ context.Context, a ump.AttemptDoneInfo) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.attempts = append(l.attempts, a)
		},
		TokenCall: func(_ context.Context, tc ump.TokenCallInfo) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.tokens = append(l.tokens, tc)
		},
		OutboxState: func(_ context.Context, st ump.OutboxState) {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.outbox = append(l.outbox, st)
		},
	}
}

// done returns the CallDone of method, failing unless there is exactly one.
func (l *hookLog) done(t *testing.T, method string) ump.CallDoneInfo {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var found []ump.CallDoneInfo
	for _, d := range l.dones {
		if d.Method == method {
			found = append(found, d)
		}
	}
	require.Len(t, found, 1, "CallDone of %s", method)
	return found[0]
}

func (l *hookLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts, l.dones, l.attempts, l.tokens = nil, nil, nil, nil
}

func hooked(t *testing.T, includeKeys bool) (*umptest.Server, *ump.Client, *hookLog, context.Context) {
	t.Helper()
	srv, _, ctx := e2e(t)
	log := &hookLog{}
	c := srv.Client(ump.WithHooks(log.hooks(includeKeys)),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 3, InitialBackoff: 1, MaxBackoff: 1}))
	return srv, c, log, ctx
}

func TestHooksCallAndTokenCall(t *testing.T) {
	srv, c, log, ctx := hooked(t, false)
	openID := srv.AddMember(umptest.Member{Phone: "13800138000", Nickname: "h"})

	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)

	get := log.done(t, "wk.user.info.query")
	assert.Equal(t, ump.CallOK, get.Outcome)
	assert.Equal(t, "safe", get.RetryClass)
	assert.Equal(t, 1, get.Attempts)
	assert.Equal(t, 200, get.HTTPStatus)
	assert.Equal(t, "127.0.0.1", get.ServerAddress)
	assert.NotZero(t, get.ServerPort)
	assert.NoError(t, get.Err)

	// The first call obtained a token: a call of its own, and a token call.
	obtain := log.done(t, "dss.auth.token.query")
	assert.Equal(t, ump.CallOK, obtain.Outcome)
	require.Len(t, log.tokens, 1)
	tc := log.tokens[0]
	assert.Equal(t, ump.TokenObtain, tc.Kind)
	assert.Equal(t, ump.CallOK, tc.Result)
	assert.Equal(t, 0, tc.BudgetLeft, "the day's one obtain is spent")
	assert.False(t, tc.ExpiresAt.IsZero())
	assert.Len(t, log.starts, 2)
	assert.Len(t, log.attempts, 2)

	st, err := c.Auth.Status(ctx)
	require.NoError(t, err)
	_, err = c.Auth.Refresh(ctx, st.Token.RefreshToken)
	require.NoError(t, err)
	require.Len(t, log.tokens, 2)
	assert.Equal(t, ump.TokenRefresh, log.tokens[1].Kind)
	assert.Equal(t, ump.RefreshesPerDay-1, log.tokens[1].BudgetLeft)

	// The budget refuses a second obtain before anything is sent.
	_, err = c.Auth.Obtain(ctx)
	require.ErrorIs(t, err, ump.ErrTokenBudgetExhausted)
	require.Len(t, log.tokens, 3)
	assert.Equal(t, ump.CallNotSent, log.tokens[2].Result)
	assert.Equal(t, 0, log.tokens[2].BudgetLeft)
}

func TestHooksScoreChangeAlreadyAppliedAndResolved(t *testing.T) {
	srv, c, log, ctx := hooked(t, false)
	openID := srv.AddMember(umptest.Member{Phone: "13800138001", Nickname: "h"})
	_, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)
	log.reset()

	// The answer is lost: the change is sent again under its change_id,
	// and the gateway's 150002 proves the first copy applied.
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	req := &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "B1", ChangeReason: "t",
		ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()}
	res, err := c.Score.Change(ctx, req)
	require.NoError(t, err)
	require.True(t, res.AlreadyApplied)
	require.Len(t, log.dones, 1, "one call")
	d := log.dones[0]
	assert.Equal(t, "wk.user.event.score.change", d.Method)
	assert.Equal(t, "keyed", d.RetryClass)
	assert.Equal(t, ump.CallAlreadyApplied, d.Outcome)
	assert.Equal(t, 2, d.Attempts, "the lost change, the change again")
	assert.Equal(t, int64(150002), d.Code)
	assert.NoError(t, d.Err)
	assert.Empty(t, d.Key, "keys only with IncludeKeys")
	require.Len(t, log.attempts, 2)
	for i, a := range log.attempts {
		assert.Equal(t, i+1, a.Attempt)
		assert.Equal(t, "wk.user.event.score.change", a.Method)
	}
	require.Error(t, log.attempts[0].Err, "the lost answer")
	assert.NotContains(t, log.attempts[0].Err.Error(), req.ChangeID)

	// Resolve of that change reads 150002 as applied before, too.
	log.reset()
	_, err = c.Score.Resolve(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, ump.CallAlreadyApplied, log.done(t, "wk.user.event.score.change").Outcome)

	// Resolve of a change the gateway never got applies it now.
	log.reset()
	fresh := *req
	fresh.ChangeID = ump.NewChangeID()
	_, err = c.Score.Resolve(ctx, &fresh)
	require.NoError(t, err)
	assert.Equal(t, ump.CallResolved, log.done(t, "wk.user.event.score.change").Outcome)

	// The same change_id in a new call: refused, nothing moved.
	log.reset()
	_, err = c.Score.Change(ctx, req)
	require.ErrorIs(t, err, ump.ErrAlreadyExists)
	d = log.done(t, "wk.user.event.score.change")
	assert.Equal(t, ump.CallRefused, d.Outcome)
	assert.Equal(t, int64(150002), d.Code)
}

func TestHooksOrderUnknownThenResolved(t *testing.T) {
	for _, tc := range []struct {
		fault umptest.FaultKind
		want  ump.CallOutcome
	}{{umptest.DropAfterApply, ump.CallAlreadyApplied}, {umptest.DropBeforeApply, ump.CallResolved}} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			srv, c, log, ctx := hooked(t, false)
			openID := srv.AddMember(umptest.Member{Phone: "13800138002", Nickname: "h"})
			req := &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: "SECRET-ORDER-1", OpenID: openID,
				ConsumeDate: e2eStart, OrderAmount: ump.Yuan(10, 0), OrderScore: 10}}
			srv.Fail("wk.user.consume.order", umptest.Fault{Kind: tc.fault, Times: 1})
			_, err := c.Order.SyncConsume(ctx, req)
			require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
			d := log.done(t, "wk.user.consume.order")
			assert.Equal(t, ump.CallUnknown, d.Outcome)
			assert.Equal(t, "never", d.RetryClass)
			require.ErrorIs(t, d.Err, ump.ErrOutcomeUnknown, "the hook's error keeps its chain")
			var unknown *ump.OutcomeUnknownError
			require.ErrorAs(t, d.Err, &unknown)
			assert.NotContains(t, d.Err.Error(), "SECRET-ORDER-1")
			assert.Contains(t, d.Err.Error(), "order_no=***")

			log.reset()
			_, err = c.Order.ResolveConsume(ctx, req)
			require.NoError(t, err)
			d = log.done(t, "wk.user.consume.order")
			assert.Equal(t, tc.want, d.Outcome)
			assert.Equal(t, "keyed", d.RetryClass)
		})
	}
}

func TestHooksIncludeKeys(t *testing.T) {
	srv, c, log, ctx := hooked(t, true)
	openID := srv.AddMember(umptest.Member{Phone: "13800138003", Nickname: "h"})
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	_, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: "K1", OpenID: openID,
		ConsumeDate: e2eStart, OrderAmount: ump.Yuan(1, 0), OrderScore: 1}})
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	d := log.done(t, "wk.user.consume.order")
	assert.Equal(t, "order_no=K1", d.Key)
	assert.Contains(t, d.Err.Error(), "order_no=K1")

	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 1, OutBizNo: "B", ChangeReason: "t",
		ChangeEvent: ump.EventAdd, ChangeID: "CID-1"})
	require.NoError(t, err)
	assert.Equal(t, "change_id=CID-1", log.done(t, "wk.user.event.score.change").Key)
}

func TestHooksRefusedAndNotSent(t *testing.T) {
	srv, c, log, ctx := hooked(t, false)
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: "nobody"})
	require.Error(t, err)
	d := log.done(t, "wk.user.info.query")
	assert.Equal(t, ump.CallRefused, d.Outcome)
	assert.NotZero(t, d.Code)
	var apiErr *ump.APIError
	assert.ErrorAs(t, d.Err, &apiErr)
	_ = srv

	// Nothing listens: no request of the call reaches a gateway.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dead := &hookLog{}
	c2, err := ump.NewClient("app", "secret-secret", ump.WithBaseURL("http://"+addr), ump.WithHooks(dead.hooks(false)),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 2, InitialBackoff: 1, MaxBackoff: 1}))
	require.NoError(t, err)
	_, err = c2.Member.Get(ctx, &ump.MemberQuery{OpenID: "x"})
	require.Error(t, err)
	assert.Equal(t, ump.CallNotSent, dead.done(t, "wk.user.info.query").Outcome)
	obtain := dead.done(t, "dss.auth.token.query")
	assert.Equal(t, ump.CallNotSent, obtain.Outcome)
	assert.Equal(t, 2, obtain.Attempts)
	for _, a := range dead.attempts {
		assert.False(t, a.Sent)
	}
}

func TestReportOutboxState(t *testing.T) {
	_, c, log, ctx := hooked(t, false)
	c.ReportOutboxState(ctx, ump.OutboxState{Pending: 3, DeadLetters: 1})
	require.Equal(t, []ump.OutboxState{{Pending: 3, DeadLetters: 1}}, log.outbox)

	plain, err := ump.NewClient("app", "secret-secret")
	require.NoError(t, err)
	plain.ReportOutboxState(ctx, ump.OutboxState{Pending: 1}) // no hooks: nothing happens
}

func TestCallOutcomeString(t *testing.T) {
	names := map[ump.CallOutcome]string{ump.CallOK: "ok", ump.CallAlreadyApplied: "already_applied", ump.CallResolved: "resolved",
		ump.CallRefused: "refused", ump.CallUnknown: "unknown", ump.CallNotSent: "not_sent", ump.CallFailed: "failed"}
	for o, want := range names {
		assert.Equal(t, want, o.String())
	}
	assert.Equal(t, "CallOutcome(0)", ump.CallOutcome(0).String())
}

// TestCoreHasNoOpenTelemetry: the SDK's users who do not trace build no
// OpenTelemetry; the adapter lives in its own module (umpotel).
func TestCoreHasNoOpenTelemetry(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/greedc/ump-go").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "go.opentelemetry.io/") {
			t.Errorf("the core module depends on %s", pkg)
		}
	}
	require.Contains(t, string(out), "github.com/greedc/ump-go\n")
}

// ExampleWithHooks reports every call and token call as it ends: here to
// standard output, in a service to the metrics or tracing it runs (package
// umpotel does it for OpenTelemetry). Hooks run on the caller's goroutine,
// so they record and return; what they are handed is redacted.
func ExampleWithHooks() {
	gateway := umptest.NewServer()
	defer gateway.Close()
	openID := gateway.AddMember(umptest.Member{Phone: "13800000000", Nickname: "张三"})

	hooks := ump.Hooks{
		CallDone: func(_ context.Context, call ump.CallDoneInfo) {
			fmt.Printf("%s: %s after %d attempt(s)\n", call.Method, call.Outcome, call.Attempts)
		},
		TokenCall: func(_ context.Context, tc ump.TokenCallInfo) {
			fmt.Printf("token %s: %s, %d left today\n", tc.Kind, tc.Result, tc.BudgetLeft)
		},
	}
	c, err := ump.NewClient(gateway.AppID, gateway.AppSecret, ump.WithBaseURL(gateway.URL), ump.WithHooks(hooks))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Member.Get(context.Background(), &ump.MemberQuery{OpenID: openID}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// dss.auth.token.query: ok after 1 attempt(s)
	// token obtain: ok, 0 left today
	// wk.user.info.query: ok after 1 attempt(s)
}

// TestHooksClockOffset: the offset the client learns from the gateway's Date
// headers reaches the ClockOffset hook.
func TestHooksClockOffset(t *testing.T) {
	srv := umptest.NewServer()
	t.Cleanup(srv.Close)
	openID := srv.AddMember(umptest.Member{Phone: "13800138004"})
	var mu sync.Mutex
	var offsets []time.Duration
	c := srv.Client(ump.WithClock(func() time.Time { return srv.Clock().Now().Add(5 * time.Second) }),
		ump.WithHooks(ump.Hooks{ClockOffset: func(_ context.Context, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			offsets = append(offsets, d)
		}}))
	_, err := c.Member.Get(t.Context(), &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, offsets)
	last := offsets[len(offsets)-1]
	assert.InDelta(t, float64(-5*time.Second), float64(last), float64(1500*time.Millisecond), "offset %v", last)
	assert.Equal(t, c.ClockOffset(), last)
}
