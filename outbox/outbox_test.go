package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/umptest"
)

func newBolt(t *testing.T) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "till.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func quick(opts ...outbox.DrainerOption) []outbox.DrainerOption {
	return append([]outbox.DrainerOption{outbox.WithBackoff(time.Millisecond, 10*time.Millisecond),
		outbox.WithPollInterval(time.Millisecond)}, opts...)
}

// TestEnqueueRefusesInvalid: a bad request is the SDK's *ValidationError,
// naming the field, and nothing is stored.
func TestEnqueueRefusesInvalid(t *testing.T) {
	ob := outbox.New(newBolt(t))
	_, err := ob.EnqueueConsume(t.Context(), &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OpenID: "m", ConsumeDate: time.Now(), OrderScore: 1}})
	var verr *ump.ValidationError
	require.ErrorAs(t, err, &verr)
	assert.True(t, verr.Has("order_no"))
	_, err = ob.EnqueueRefund(t.Context(), &ump.RefundOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: "R1", OpenID: "m", ConsumeDate: time.Now()}})
	require.ErrorAs(t, err, &verr)
	assert.True(t, verr.Has("parent_order_no"))
	_, err = ob.EnqueueScoreChange(t.Context(), nil)
	require.ErrorAs(t, err, &verr)
	assert.True(t, verr.Has("open_id"))
	n, err := ob.Pending(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestEnqueueFixesTheChangeID: an empty change_id is generated once, at
// enqueue, and stored; the caller's request is left alone; a given one is
// kept; the same key twice is refused.
func TestEnqueueFixesTheChangeID(t *testing.T) {
	s := newBolt(t)
	ob := outbox.New(s)
	req := &ump.ScoreChangeRequest{OpenID: "m", Score: 5, OutBizNo: "B1", ChangeReason: "r", ChangeEvent: ump.EventAdd}
	j, err := ob.EnqueueScoreChange(t.Context(), req)
	require.NoError(t, err)
	assert.Len(t, j.Change.ChangeID, 26)
	assert.Empty(t, req.ChangeID)
	stored, err := s.List(t.Context(), outbox.StateQueued, 0)
	require.NoError(t, err)
	require.Len(t, stored, 1)
	assert.Equal(t, j.Change.ChangeID, stored[0].Change.ChangeID)

	req.ChangeID = j.Change.ChangeID
	_, err = ob.EnqueueScoreChange(t.Context(), req)
	require.ErrorIs(t, err, outbox.ErrDuplicateKey)
	assert.Contains(t, err.Error(), "change_id="+req.ChangeID)
}

func testSale(no, member string) *ump.ConsumeOrderRequest {
	return &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: no, OpenID: member, ConsumeDate: time.Now(),
		OrderAmount: ump.Yuan(20, 0), OrderScore: 20}}
}

// TestDeliverResend: a first send of an order_no the gateway has is a
// refusal (it may be another sale's); a resend reads it as applied.
func TestDeliverResend(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	m := srv.AddMember(umptest.Member{Phone: "13800000001"})
	c := srv.Client()
	job := &outbox.Job{Kind: outbox.KindConsume, Consume: testSale("D1", m)}
	r, err := outbox.Deliver(t.Context(), c, job)
	require.NoError(t, err)
	assert.False(t, r.AlreadyApplied)
	assert.NotEmpty(t, r.StatementID)

	_, err = outbox.Deliver(t.Context(), c, job)
	var apiErr *ump.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, int64(150002), apiErr.Code)
	assert.False(t, ump.Retryable(err))

	job.Resend = true
	r, err = outbox.Deliver(t.Context(), c, job)
	require.NoError(t, err)
	assert.True(t, r.AlreadyApplied)
	assert.Equal(t, int64(20), srv.Balance(m), "applied once")
}

// queueUnknownAndKnown queues a sale for a phone the gateway does not know
// (X1, refused) and one for a member it knows (K1).
func queueUnknownAndKnown(t *testing.T) (*umptest.Server, *boltstore.Store, *outbox.Outbox) {
	t.Helper()
	srv := umptest.NewServer()
	t.Cleanup(srv.Close)
	known := srv.AddMember(umptest.Member{Phone: "13800000001"})
	s := newBolt(t)
	ob := outbox.New(s)
	unknown := testSale("X1", "")
	unknown.Phone = "13900000009"
	_, err := ob.EnqueueConsume(t.Context(), unknown)
	require.NoError(t, err)
	_, err = ob.EnqueueConsume(t.Context(), testSale("K1", known))
	require.NoError(t, err)
	return srv, s, ob
}

// TestDeadLetterAndRetry: an unknown member is refused; the job keeps the
// code and message, the member's other jobs go on, and once the member
// exists Retry delivers it. The refusal is logged at WARN without the
// phone.
func TestDeadLetterAndRetry(t *testing.T) {
	srv, s, ob := queueUnknownAndKnown(t)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d := outbox.NewDrainer(s, srv.Client(), quick(outbox.WithLogger(log))...)
	st, err := d.DrainOnce(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Delivered)
	assert.Equal(t, 1, st.Dead)
	assert.Contains(t, d.State().LastError, "110003")

	dead, err := ob.DeadLetters(t.Context())
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, int64(110003), dead[0].Code)
	assert.NotEmpty(t, dead[0].Message)
	assert.Equal(t, outbox.StateDead, dead[0].State)
	assert.Contains(t, logs.String(), "outbox: refused, moved to dead letters")
	assert.Contains(t, logs.String(), "code=110003")
	assert.NotContains(t, logs.String(), "13900000009")

	srv.AddMember(umptest.Member{Phone: "13900000009"})
	n, err := ob.Retry(t.Context(), dead[0].ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	st, err = d.DrainOnce(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, st.Delivered)
	_, ok := srv.Order("X1")
	assert.True(t, ok)
	left, err := ob.Pending(t.Context())
	require.NoError(t, err)
	assert.Zero(t, left)
}

// TestBusyKeepsOrder: a sale answered "system busy" is tried again, its
// return waits for it, and the retry settles it by resending.
func TestBusyKeepsOrder(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	m := srv.AddMember(umptest.Member{Phone: "13800000001"})
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.SystemBusy, Times: 2})
	s := newBolt(t)
	ob := outbox.New(s)
	_, err := ob.EnqueueConsume(t.Context(), testSale("B1", m))
	require.NoError(t, err)
	_, err = ob.EnqueueRefund(t.Context(), &ump.RefundOrderRequest{ParentOrderNo: "B1", OrderDetails: ump.OrderDetails{
		OrderNo: "B1R", OpenID: m, ConsumeDate: time.Now(), OrderAmount: ump.Yuan(5, 0), OrderScore: 5}})
	require.NoError(t, err)
	var events []outbox.Event
	d := outbox.NewDrainer(s, srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1})),
		quick(outbox.WithObserver(func(e outbox.Event) { events = append(events, e) }), outbox.WithConcurrency(1))...)
	st, err := d.DrainOnce(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, st.Delivered)
	assert.Equal(t, 2, st.Retried)
	var order []string
	for _, e := range events {
		order = append(order, e.Job.Key()+":"+string(e.Outcome))
	}
	assert.Equal(t, []string{"order_no=B1:queued", "order_no=B1:queued", "order_no=B1:delivered", "order_no=B1R:delivered"}, order)
	assert.True(t, events[2].Job.Resend, "after a busy answer the sale is settled by resending")
	assert.Equal(t, int64(15), srv.Balance(m))
	require.NoError(t, srv.Audit())
}

// TestDrainOnceStalls: a gateway that answers "system busy" to everything
// stops DrainOnce after the stall limit; the jobs stay queued.
func TestDrainOnceStalls(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	m := srv.AddMember(umptest.Member{Phone: "13800000001"})
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.SystemBusy})
	s := newBolt(t)
	ob := outbox.New(s)
	_, err := ob.EnqueueConsume(t.Context(), testSale("S1", m))
	require.NoError(t, err)
	d := outbox.NewDrainer(s, srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1})), quick(outbox.WithStallLimit(3))...)
	st, err := d.DrainOnce(t.Context())
	require.ErrorIs(t, err, outbox.ErrStalled)
	assert.Equal(t, 3, st.Retried)
	n, _ := ob.Pending(t.Context())
	assert.Equal(t, 1, n)
}

// TestRunProbesThenDelivers: while the network is down, Run probes with
// one job (the jobs tried are at most the first round's), and once it is
// back every job is delivered once.
func TestRunProbesThenDelivers(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	var members []string
	for _, p := range []string{"13800000001", "13800000002", "13800000003", "13800000004", "13800000005"} {
		members = append(members, srv.AddMember(umptest.Member{Phone: p}))
	}
	var down atomic.Bool
	down.Store(true)
	var dialer net.Dialer
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if down.Load() {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ENETUNREACH}
		}
		return dialer.DialContext(ctx, network, addr)
	}}}
	defer hc.CloseIdleConnections()
	// The token is had before the network goes.
	c := srv.Client(ump.WithHTTPClient(hc), ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}))
	down.Store(false)
	_, err := c.Auth.AccessToken(t.Context())
	require.NoError(t, err)
	down.Store(true)
	hc.CloseIdleConnections() // the cable is out: no connection survives
	srv.ResetStats()

	s := newBolt(t)
	ob := outbox.New(s)
	for i := range 20 {
		_, err := ob.EnqueueConsume(t.Context(), testSale(fmt.Sprintf("P%02d", i), members[i%len(members)]))
		require.NoError(t, err)
	}
	var attempts atomic.Int32
	d := outbox.NewDrainer(s, c, quick(outbox.WithConcurrency(4), outbox.WithObserver(func(outbox.Event) { attempts.Add(1) }))...)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	for attempts.Load() < 30 { // the first round, then probe after probe
		time.Sleep(time.Millisecond)
	}
	require.True(t, d.State().Unreachable, "%+v", d.State())
	queued, err := s.List(t.Context(), outbox.StateQueued, 0)
	require.NoError(t, err)
	tried := 0
	for _, j := range queued {
		if j.Attempts > 0 {
			tried++
			assert.False(t, j.Resend, "a failed dial sent nothing")
		}
	}
	assert.LessOrEqual(t, tried, 4, "30 attempts while down went to the first round's jobs")
	down.Store(false)
	for {
		n, err := ob.Pending(t.Context())
		require.NoError(t, err)
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	stopped = true
	require.ErrorIs(t, <-done, context.Canceled)

	assert.Equal(t, 20, srv.Stats().Calls["wk.user.consume.order"], "each sale sent once: no attempt while down reached the gateway")
	for i := range 20 {
		_, ok := srv.Order(fmt.Sprintf("P%02d", i))
		assert.True(t, ok)
	}
	require.NoError(t, srv.Audit())
}

// TestDrainerReportsStateToHooks: the client's OutboxState hook sees the
// queue drain to empty and the dead letter counted.
func TestDrainerReportsStateToHooks(t *testing.T) {
	srv, s, _ := queueUnknownAndKnown(t)

	var states []ump.OutboxState
	c := srv.Client(ump.WithHooks(ump.Hooks{OutboxState: func(_ context.Context, st ump.OutboxState) {
		states = append(states, st) // DrainOnce reports from its own goroutine
	}}))
	_, err := outbox.NewDrainer(s, c, quick()...).DrainOnce(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, states)
	last := states[len(states)-1]
	assert.Equal(t, ump.OutboxState{Pending: 0, OldestAge: 0, DeadLetters: 1}, last)
}
