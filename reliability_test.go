package ump_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// Gateway methods the tests fault.
const (
	mMemberGet    = "wk.user.info.query"
	mMemberCreate = "wk.user.info.add"
	mChange       = "wk.user.event.score.change"
	mRollback     = "wk.user.event.score.rollback"
	mConsume      = "wk.user.consume.order"
	mRefund       = "wk.user.refund.order"
	mTemplateAdd  = "wk.coupon.template.add"
	mGive         = "wk.coupon.give"
	mSyncStatus   = "wk.coupon.sync.status"
	mVerify       = "wk.coupon.verification"
	mSMSSend      = "wk.sms.verify.send"
)

// fastRetry keeps retry waits at a few milliseconds.
var fastRetry = ump.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}

// attemptTimeout bounds each attempt under a Delay fault, whose call the
// gateway still applies once the client has given up.
const attemptTimeout = 200 * time.Millisecond

// newGateway starts a test gateway and a client for it with fast retries.
// The client's idle connections are closed with the test. opts come last
// and win.
func newGateway(t *testing.T, opts ...ump.Option) (*umptest.Server, *ump.Client) {
	t.Helper()
	srv := umptest.NewServer(umptest.WithSeed(7))
	t.Cleanup(srv.Close)
	base := []ump.Option{ump.WithRetry(fastRetry), closingHTTP(t)}
	return srv, srv.Client(append(base, opts...)...)
}

// closingHTTP gives the client a transport whose idle connections are closed
// when the test ends, so that no connection goroutine outlives it.
func closingHTTP(t *testing.T) ump.Option {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return ump.WithHTTPClient(&http.Client{Transport: tr})
}

// settle waits until the gateway has answered (or dropped) every call it
// received: each is counted in Stats when it arrives and recorded in
// Requests when it is finished. Tests call it before reading the gateway's
// books, never while the SDK works: a Delay fault applies its call after
// the client gave up on it, possibly after the SDK sent it again.
func settle(srv *umptest.Server) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		arrived := 0
		for _, n := range srv.Stats().Calls {
			arrived += n
		}
		if len(srv.Requests()) >= arrived {
			return
		}
	}
}

// applying reports whether the gateway carries a call out under the fault.
func applying(k umptest.FaultKind) bool {
	return k == umptest.Delay || k == umptest.MalformedBody || k == umptest.DropAfterApply
}

var faultKinds = []umptest.FaultKind{umptest.Delay, umptest.HTTPStatus, umptest.SystemBusy, umptest.HTMLPage,
	umptest.MalformedBody, umptest.DropBeforeApply, umptest.DropAfterApply}

// category is how the SDK treats a call's failures.
type category int

const (
	read     category = iota // repeated after any retryable failure
	dedup                    // the same, because the gateway deduplicates it
	never                    // never repeated once it may have reached the gateway
	scoreChg                 // resent under its change_id until a definite answer
)

func (c category) String() string { return [...]string{"read", "dedup", "never", "score"}[c] }

// outcome is the kind of error a call returns.
type outcome int

const (
	success   outcome = iota // nil
	apiError                 // *ump.APIError: a definite refusal
	unknown                  // *ump.OutcomeUnknownError
	respError                // *ump.ResponseError, retries spent
	trError                  // *ump.TransportError, retries spent
)

func (o outcome) String() string {
	return [...]string{"nil", "*APIError", "*OutcomeUnknownError", "*ResponseError", "*TransportError"}[o]
}

// expect is the outcome of a call of category cat under a fault of kind k
// that hits once (persistent false) or every attempt.
func expect(cat category, k umptest.FaultKind, persistent bool) outcome {
	switch {
	case cat == scoreChg && persistent:
		// Unresolved within the retry budget: "system busy" to a keyed
		// write may have applied all the same.
		return unknown
	case k == umptest.SystemBusy && (cat == never || persistent):
		return apiError // definite, and for a never-retried call not repeated
	}
	switch cat {
	case never:
		return unknown
	case scoreChg:
		return success
	}
	if !persistent {
		return success
	}
	switch k {
	case umptest.HTTPStatus, umptest.HTMLPage, umptest.MalformedBody:
		return respError
	}
	return trError
}

// cause is the failure inside an *OutcomeUnknownError, or the error of a
// read whose retries are spent, under a fault of kind k.
func causeIsResponse(k umptest.FaultKind) bool {
	return k == umptest.HTTPStatus || k == umptest.HTMLPage || k == umptest.MalformedBody
}

// fixture is what a case sets up before the fault.
type fixture struct {
	srv    *umptest.Server
	c      *ump.Client
	openID string
	phone  string
	// set by a case's prepare
	statementID, couponNumber string
}

// callCase is one SDK call in the matrix.
type callCase struct {
	name    string
	cat     category
	methods []string // the gateway methods the fault hits
	prepare func(t *testing.T, f *fixture)
	call    func(ctx context.Context, f *fixture) error
	// applied counts how often the intended change applied (nil for reads).
	applied func(f *fixture) int
	// resolve settles an unknown outcome the way the README tells a caller
	// to, with the gateway healthy again.
	resolve func(ctx context.Context, f *fixture, err error) error
	// keyedWrite: a deduplicated write, repeated like a read, whose outcome
	// is unknown once an attempt may have applied it and the retries end.
	keyedWrite bool
}

const templateID = "tpl-1"

func addTemplate(t *testing.T, f *fixture) {
	_, err := f.c.Coupon.CreateTemplate(context.Background(), &ump.CouponTemplateRequest{
		ThirdCouponID: templateID, Name: "满100减10", DiscountFee: 1000, Rules: "满100可用", FixedTerm: 30,
	})
	require.NoError(t, err)
}

func give(ctx context.Context, f *fixture, number string) error {
	_, err := f.c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: templateID, Number: 1,
		CouponSet: []ump.CouponGrant{{OpenID: f.openID, ParamsType: ump.ParamsOpenID, CouponNumber: number}}})
	return err
}

// coupon returns the member's coupon with the integrator's number, as the
// platform holds it.
func coupon(f *fixture, number string) (umptest.Coupon, int) {
	var found umptest.Coupon
	n := 0
	for _, c := range f.srv.Coupons(f.openID) {
		if c.ThirdCouponCode == number {
			found, n = c, n+1
		}
	}
	return found, n
}

// listed reports whether the member's coupon list (5.5) shows the coupon,
// and its status.
func listed(ctx context.Context, f *fixture, number string) (bool, ump.CouponStatus, error) {
	for uc, err := range f.c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: f.openID}) {
		if err != nil {
			return false, 0, err
		}
		if uc.ThirdCouponCode == number {
			return true, uc.Status, nil
		}
	}
	return false, 0, nil
}

// statements counts the member's ledger entries of kind whose order number
// (order_no, or a change's out_biz_no) is orderNo and which still stand.
func statements(f *fixture, kind, orderNo string) int {
	n := 0
	for _, s := range f.srv.Ledger(f.openID) {
		if s.Kind == kind && s.OrderNo == orderNo && len(s.ReversedBy) == 0 {
			n++
		}
	}
	return n
}

func order(no string, score int64) ump.OrderDetails {
	return ump.OrderDetails{OrderNo: no, OpenID: "", Phone: "13800000001", ConsumeDate: time.Now(),
		OrderAmount: ump.Yuan(100, 0), OrderScore: score, Desc: "门店消费"}
}

func changeRequest(openID, outBizNo string, score int64, event ump.ChangeEvent) *ump.ScoreChangeRequest {
	return &ump.ScoreChangeRequest{OpenID: openID, Score: score, OutBizNo: outBizNo, OrderAmount: ump.Yuan(score, 0),
		ChangeReason: "测试", ChangeEvent: event, ChangeID: ump.NewChangeID()}
}

// appliedRequests counts the calls of method the gateway carried out
// successfully, from its request log.
func appliedRequests(srv *umptest.Server, method string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Code == 0 && (r.Fault == 0 || applying(r.Fault)) {
			n++
		}
	}
	return n
}

var callCases = []callCase{
	{
		name: "Member.Get", cat: read, methods: []string{mMemberGet},
		call: func(ctx context.Context, f *fixture) error {
			m, err := f.c.Member.Get(ctx, &ump.MemberQuery{OpenID: f.openID})
			if err == nil && m.OpenID != f.openID {
				return fmt.Errorf("got member %q", m.OpenID)
			}
			return err
		},
	},
	{
		name: "Score.Rollback", cat: dedup, methods: []string{mRollback},
		prepare: func(t *testing.T, f *fixture) {
			res, err := f.c.Score.Change(context.Background(), changeRequest(f.openID, "rb-1", 100, ump.EventAdd))
			require.NoError(t, err)
			f.statementID = res.StatementID
		},
		keyedWrite: true,
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: f.openID, StatementID: f.statementID,
				RollbackScore: 100, ChangeID: "rb-undo-1"})
			return err
		},
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			// The README's advice: repeat with the same change_id, through
			// ResolveRollback.
			_, err := f.c.Score.ResolveRollback(ctx, &ump.ScoreRollbackRequest{OpenID: f.openID, StatementID: f.statementID,
				RollbackScore: 100, ChangeID: "rb-undo-1"})
			return err
		},
		applied: func(f *fixture) int {
			n := 0
			for _, s := range f.srv.Ledger(f.openID) {
				if s.Kind == umptest.KindRollback && s.Reverses == f.statementID {
					n++
				}
			}
			return n
		},
	},
	{
		name: "Coupon.SyncStatus", cat: dedup, methods: []string{mSyncStatus},
		prepare: func(t *testing.T, f *fixture) {
			addTemplate(t, f)
			f.couponNumber = "cn-sync"
			require.NoError(t, give(context.Background(), f, f.couponNumber))
		},
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Coupon.SyncStatus(ctx, &ump.CouponStatusRequest{ThirdCouponCode: f.couponNumber, OpenID: f.openID,
				Status: ump.CouponUsed})
			return err
		},
		applied: func(f *fixture) int {
			if c, _ := coupon(f, f.couponNumber); c.Status == umptest.CouponUsed {
				return 1
			}
			return 0
		},
	},
	{
		name: "Member.Create", cat: never, methods: []string{mMemberCreate},
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "p1", Nickname: "新会员", Phone: "13900000002"})
			return err
		},
		applied: func(f *fixture) int {
			if _, ok := f.srv.Member("13900000002"); ok {
				return 1
			}
			return 0
		},
		// Look the member up by phone before creating again.
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			_, err := f.c.Member.Get(ctx, &ump.MemberQuery{Phone: "13900000002"})
			var apiErr *ump.APIError
			if errors.As(err, &apiErr) {
				_, err = f.c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "p1", Nickname: "新会员", Phone: "13900000002"})
			}
			return err
		},
	},
	{
		name: "Order.SyncConsume", cat: never, methods: []string{mConsume},
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: order("S-1", 80)})
			return err
		},
		applied: func(f *fixture) int { return statements(f, umptest.KindOrder, "S-1") },
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			_, err := f.c.Order.ResolveConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: order("S-1", 80)})
			return err
		},
	},
	{
		name: "Order.SyncRefund", cat: never, methods: []string{mRefund},
		prepare: func(t *testing.T, f *fixture) {
			_, err := f.c.Order.SyncConsume(context.Background(), &ump.ConsumeOrderRequest{OrderDetails: order("S-2", 80)})
			require.NoError(t, err)
		},
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: order("R-2", 30), ParentOrderNo: "S-2"})
			return err
		},
		applied: func(f *fixture) int { return statements(f, umptest.KindRefund, "R-2") },
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			_, err := f.c.Order.ResolveRefund(ctx, &ump.RefundOrderRequest{OrderDetails: order("R-2", 30), ParentOrderNo: "S-2"})
			return err
		},
	},
	{
		name: "Coupon.Give", cat: never, methods: []string{mGive},
		prepare: func(t *testing.T, f *fixture) { addTemplate(t, f) },
		call:    func(ctx context.Context, f *fixture) error { return give(ctx, f, "cn-give") },
		applied: func(f *fixture) int { _, n := coupon(f, "cn-give"); return n },
		// Look for the coupon_number in the member's coupons before giving
		// again.
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			found, _, err := listed(ctx, f, "cn-give")
			if err == nil && !found {
				err = give(ctx, f, "cn-give")
			}
			return err
		},
	},
	{
		name: "Coupon.Verify", cat: never, methods: []string{mVerify},
		prepare: func(t *testing.T, f *fixture) {
			addTemplate(t, f)
			require.NoError(t, give(context.Background(), f, "cn-verify"))
		},
		call: func(ctx context.Context, f *fixture) error {
			return f.c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: f.openID, OrderNo: "V-1", ThirdCouponCodes: []string{"cn-verify"}})
		},
		applied: func(f *fixture) int {
			if c, _ := coupon(f, "cn-verify"); c.Status == umptest.CouponUsed {
				return 1
			}
			return 0
		},
		// Look at the coupon's status before verifying again.
		resolve: func(ctx context.Context, f *fixture, _ error) error {
			_, status, err := listed(ctx, f, "cn-verify")
			if err == nil && status != ump.CouponUsed {
				err = f.c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: f.openID, OrderNo: "V-1", ThirdCouponCodes: []string{"cn-verify"}})
			}
			return err
		},
	},
	{
		// No resolution: a second message costs the member's daily quota;
		// the member asks for a new code if none arrived.
		name: "SMS.SendCode", cat: never, methods: []string{mSMSSend},
		call:    func(ctx context.Context, f *fixture) error { return f.c.SMS.SendCode(ctx, f.phone) },
		applied: func(f *fixture) int { return appliedRequests(f.srv, mSMSSend) },
	},
	{
		name: "Score.Change", cat: scoreChg, methods: []string{mChange},
		call: func(ctx context.Context, f *fixture) error {
			_, err := f.c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: f.openID, Score: 60, OutBizNo: "C-1",
				OrderAmount: ump.Yuan(60, 0), ChangeReason: "消费", ChangeEvent: ump.EventAdd, ChangeID: "c1-0123456789abcdef0123456"})
			return err
		},
		applied: func(f *fixture) int { return statements(f, umptest.KindChange, "C-1") },
		resolve: func(ctx context.Context, f *fixture, err error) error {
			var unresolved *ump.ScoreChangeUnresolvedError
			if !errors.As(err, &unresolved) {
				return fmt.Errorf("not a *ScoreChangeUnresolvedError: %w", err)
			}
			_, err = f.c.Score.Resolve(ctx, &unresolved.Request)
			return err
		},
	},
}

// TestFaultMatrix runs every call category under every fault kind, hitting
// once and hitting every attempt, and checks the error the SDK returns and,
// in the gateway's books, that each intended change applied exactly once
// (after the caller's resolution, where the outcome was unknown).
func TestFaultMatrix(t *testing.T) {
	for _, cc := range callCases {
		for _, kind := range faultKinds {
			for _, persistent := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/%s/once", cc.cat, cc.name, kind)
				if persistent {
					name = strings.TrimSuffix(name, "once") + "always"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					runCase(t, cc, kind, persistent)
				})
			}
		}
	}
}

func runCase(t *testing.T, cc callCase, kind umptest.FaultKind, persistent bool) {
	var opts []ump.Option
	if kind == umptest.Delay {
		opts = append(opts, ump.WithTimeout(attemptTimeout))
	}
	srv, c := newGateway(t, opts...)
	f := &fixture{srv: srv, c: c, phone: "13800000001"}
	f.openID = srv.AddMember(umptest.Member{Phone: f.phone, Score: 1000})
	ctx := context.Background()
	if cc.prepare != nil {
		cc.prepare(t, f)
	}
	before := 0
	if cc.applied != nil {
		before = cc.applied(f)
		require.Zero(t, before)
	}

	fault := umptest.Fault{Kind: kind, Delay: 10 * time.Second}
	if kind != umptest.Delay {
		fault.Delay = 0
	}
	if !persistent {
		fault.Times = 1
	}
	for _, m := range cc.methods {
		srv.Fail(m, fault)
	}
	err := cc.call(ctx, f)
	settle(srv)

	want := expect(cc.cat, kind, persistent)
	if cc.keyedWrite && (want == respError || want == trError || want == apiError) {
		want = unknown // an attempt may have applied it ("system busy" too)
	}
	var (
		apiErr  *ump.APIError
		unk     *ump.OutcomeUnknownError
		respErr *ump.ResponseError
		trErr   *ump.TransportError
	)
	switch want {
	case success:
		require.NoError(t, err)
	case apiError:
		require.ErrorAs(t, err, &apiErr)
		require.ErrorIs(t, err, ump.ErrSystemBusy)
		require.NotErrorIs(t, err, ump.ErrOutcomeUnknown)
	case unknown:
		require.ErrorAs(t, err, &unk)
		require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
		if cc.cat == never {
			// The cause is the attempt's own failure; a score change's is
			// the last failure of its resolution.
			if causeIsResponse(kind) {
				require.ErrorAs(t, err, &respErr)
			} else {
				require.ErrorAs(t, err, &trErr)
			}
		}
	case respError:
		require.ErrorAs(t, err, &respErr)
		require.NotErrorIs(t, err, ump.ErrOutcomeUnknown)
	case trError:
		require.ErrorAs(t, err, &trErr)
		require.NotErrorIs(t, err, ump.ErrOutcomeUnknown)
	}
	require.Equal(t, want.String(), outcomeOf(err).String(), "%v", err)

	if cc.applied != nil {
		got := cc.applied(f)
		switch want {
		case success:
			require.Equal(t, 1, got, "applied exactly once")
		case apiError:
			require.Equal(t, 0, got, "a definite refusal applies nothing")
		default:
			n := 0
			if applying(kind) {
				n = 1
			}
			require.Equal(t, n, got, "applied as the fault says, and never twice")
		}
		if want == unknown && cc.resolve != nil {
			srv.ClearFaults()
			require.NoError(t, cc.resolve(ctx, f, err))
			require.Equal(t, 1, cc.applied(f), "resolved: applied exactly once")
		}
	}
	require.NoError(t, srv.Audit())
}

// outcomeOf classifies err the way the matrix's expectations are written.
func outcomeOf(err error) outcome {
	var (
		apiErr  *ump.APIError
		respErr *ump.ResponseError
	)
	switch {
	case err == nil:
		return success
	case errors.Is(err, ump.ErrOutcomeUnknown):
		return unknown
	case errors.As(err, &apiErr):
		return apiError
	case errors.As(err, &respErr):
		return respError
	}
	return trError
}

// TestScoreChangesUnderLoss: 200 score changes while a fifth of the answers
// are lost after the change applied and some requests are dropped before
// it. Every change succeeds under its own change_id (resent, never rolled
// back), and the balance is exactly the sum of the changes.
func TestScoreChangesUnderLoss(t *testing.T) {
	srv, c := newGateway(t, ump.WithRetry(ump.RetryPolicy{MaxAttempts: 8, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
	const start = 100000
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: start})
	ctx := context.Background()
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}) // the token, before the faults
	require.NoError(t, err)
	srv.Fail(mChange, umptest.Fault{Kind: umptest.DropAfterApply, Rate: 0.2})
	srv.Fail(mChange, umptest.Fault{Kind: umptest.DropBeforeApply, Rate: 0.1})

	want := int64(start)
	applied := map[string]string{} // out_biz_no -> change_id
	earlier := 0
	for i := range 200 {
		req := changeRequest(openID, fmt.Sprintf("B-%03d", i), int64(i%9+1)*10, ump.EventAdd)
		if i%4 == 3 {
			req.ChangeEvent = ump.EventSubtract
			want -= req.Score
		} else {
			want += req.Score
		}
		res, err := c.Score.Change(ctx, req)
		require.NoError(t, err, "change %d", i)
		require.Equal(t, req.ChangeID, res.ChangeID)
		if res.AlreadyApplied {
			earlier++ // a lost answer's change had applied
			require.Empty(t, res.StatementID)
		} else {
			require.NotEmpty(t, res.StatementID)
		}
		applied[req.OutBizNo] = res.ChangeID
	}
	settle(srv)
	require.Equal(t, want, srv.Balance(openID))
	require.NoError(t, srv.Audit())
	require.Greater(t, earlier, 20, "the faults were met and settled")

	standing := map[string][]string{}
	for _, s := range srv.Ledger(openID) {
		if s.Kind == umptest.KindChange && len(s.ReversedBy) == 0 {
			standing[s.OrderNo] = append(standing[s.OrderNo], s.ChangeID)
		}
	}
	require.Len(t, standing, 200)
	for no, id := range applied {
		require.Equal(t, []string{id}, standing[no], "change %s stands once, under its change_id", no)
	}
	var lost, dropped int
	for _, r := range srv.Requests() {
		require.NotEqual(t, mRollback, r.Method, "a change is never rolled back")
		switch r.Fault {
		case umptest.DropAfterApply:
			lost++
		case umptest.DropBeforeApply:
			dropped++
		}
	}
	require.Greater(t, lost, 30)
	require.Greater(t, dropped, 10)
}

// TestScoreResolveAfterRestart: the gateway drops every answer, so the
// change cannot be settled before the caller's deadline. The error says the
// outcome is unknown and carries the request; persisted as JSON, it is
// resolved later by another client (a restarted process), and the ledger
// shows the change applied once. Resolving it once more changes nothing.
func TestScoreResolveAfterRestart(t *testing.T) {
	store := ump.NewMemoryTokenStore() // what a persistent store keeps across the restart
	srv, c := newGateway(t, ump.WithTokenStore(store),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1000, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	const start = 500
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: start})
	ctx := context.Background()
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)

	srv.Fail(mChange, umptest.Fault{Kind: umptest.DropAfterApply})
	req := changeRequest(openID, "POS-42", 70, ump.EventAdd)
	dctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Score.Change(dctx, req)
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var unresolved *ump.ScoreChangeUnresolvedError
	require.ErrorAs(t, err, &unresolved)
	require.Equal(t, *req, unresolved.Request, "the request as sent")
	require.Equal(t, "change_id="+req.ChangeID, unresolved.Key)
	require.Contains(t, err.Error(), req.ChangeID)
	settle(srv)
	require.Equal(t, int64(start+70), srv.Balance(openID), "the lost change did apply, once")

	saved, err := json.Marshal(unresolved.Request)
	require.NoError(t, err)

	// Later, in another process.
	srv.ClearFaults()
	c2 := srv.Client(ump.WithTokenStore(store), ump.WithRetry(fastRetry), closingHTTP(t))
	var persisted ump.ScoreChangeRequest
	require.NoError(t, json.Unmarshal(saved, &persisted))
	require.Equal(t, *req, persisted)
	res, err := c2.Score.Resolve(ctx, &persisted)
	require.NoError(t, err)
	require.Equal(t, &ump.ScoreChangeResult{ChangeID: req.ChangeID, AlreadyApplied: true}, res)
	require.Equal(t, int64(start+70), srv.Balance(openID))
	standing := func() []string {
		var ids []string
		for _, s := range srv.Ledger(openID) {
			if s.Kind == umptest.KindChange && len(s.ReversedBy) == 0 {
				ids = append(ids, s.ChangeID)
			}
		}
		return ids
	}
	require.Equal(t, []string{req.ChangeID}, standing(), "applied once, under its change_id")

	// A job that runs the resolution again (it crashed before recording the
	// result) does not apply the change a second time.
	again, err := c2.Score.Resolve(ctx, &persisted)
	require.NoError(t, err)
	require.True(t, again.AlreadyApplied)
	require.Equal(t, int64(start+70), srv.Balance(openID))
	require.Equal(t, []string{req.ChangeID}, standing())
	require.NoError(t, srv.Audit())
}

// TestEveryAttemptIsSignedAfresh: a repeated call carries the same body bytes
// under a new timestamp and sign, each accepted by the gateway.
func TestEveryAttemptIsSignedAfresh(t *testing.T) {
	var tick atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	srv, c := newGateway(t, ump.WithClock(clock))
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	ctx := context.Background()
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	srv.Fail(mMemberGet, umptest.Fault{Kind: umptest.DropBeforeApply, Times: 2})
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)

	var bodies, stamps []string
	for _, r := range srv.Requests()[2:] { // after the token and the first call
		bodies = append(bodies, string(r.Body))
		stamps = append(stamps, r.Query.Get("timestamp"))
	}
	require.Len(t, bodies, 3)
	require.Equal(t, bodies[0], bodies[1])
	require.Equal(t, bodies[0], bodies[2])
	require.NotEqual(t, stamps[0], stamps[1])
	require.NotEqual(t, stamps[1], stamps[2])
	require.Zero(t, srv.Stats().Rejected, "every sign matched its timestamp and body")
}

// TestRetryWaitEndsWithTheContext: a read that keeps failing stops waiting
// when the caller's context ends, long before its backoff would.
func TestRetryWaitEndsWithTheContext(t *testing.T) {
	srv, c := newGateway(t, ump.WithRetry(ump.RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Hour, MaxBackoff: time.Hour}))
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	ctx := context.Background()
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	srv.Fail(mMemberGet, umptest.Fault{Kind: umptest.SystemBusy})
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = c.Member.Get(dctx, &ump.MemberQuery{OpenID: openID})
	require.ErrorIs(t, err, ump.ErrSystemBusy)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 2, srv.Stats().Calls[mMemberGet], "one attempt before the fault, one under it")
}

// TestUnreadableAnswersNameTheCall: a proxy's HTML page (which echoes the
// request's token and sign) and a cut-off body become a *ResponseError naming
// the gateway method and HTTP status, with a short sample free of
// credentials.
func TestUnreadableAnswersNameTheCall(t *testing.T) {
	srv, c := newGateway(t, ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}))
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	ctx := context.Background()
	_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	token, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)

	srv.Fail(mMemberGet, umptest.Fault{Kind: umptest.HTMLPage, Times: 1})
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	var re *ump.ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, mMemberGet, re.Method)
	require.Equal(t, http.StatusBadGateway, re.HTTPStatus)
	require.Contains(t, re.Sample, "502 Bad Gateway")
	require.LessOrEqual(t, len(re.Sample), 200)
	require.Contains(t, err.Error(), mMemberGet)
	require.Contains(t, err.Error(), "HTTP 502")
	for _, s := range []string{token, srv.AppSecret} {
		require.NotContains(t, err.Error(), s)
	}
	require.NotRegexp(t, `sign=[0-9a-f]{32}`, err.Error())

	srv.Fail(mMemberGet, umptest.Fault{Kind: umptest.MalformedBody, Times: 1})
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.ErrorAs(t, err, &re)
	require.Equal(t, mMemberGet, re.Method)
	require.Equal(t, http.StatusOK, re.HTTPStatus)
	require.Contains(t, err.Error(), "not a gateway envelope")
}

// TestScoreChangesUnderLateApply: 2,000 score changes while 5% of the
// requests are held by the gateway past the client's timeout and applied
// after it gave up (umptest's LateApply fault: the gateway finishes late
// whatever the client does, and a resend under the same change_id waits
// for the original, then is refused). Each change is resent under its own
// change_id, never rolled back: every change applies exactly once, and the
// balance is exactly the sum, once every unknown outcome is resolved.
func TestScoreChangesUnderLateApply(t *testing.T) {
	changesUnderLateFault(t, umptest.Fault{Kind: umptest.LateApply, Rate: 0.05, Delay: 100 * time.Millisecond})
}

// TestScoreChangesUnderDelay is the same under the Delay fault, whose late
// call applies the moment the client gives up.
func TestScoreChangesUnderDelay(t *testing.T) {
	changesUnderLateFault(t, umptest.Fault{Kind: umptest.Delay, Rate: 0.05, Delay: 5 * time.Second})
}

func changesUnderLateFault(t *testing.T, fault umptest.Fault) {
	store := ump.NewMemoryTokenStore()
	// patient settles what impatient, whose attempts give up at 30 ms,
	// leaves unresolved (on a loaded machine, not only under the fault).
	srv, patient := newGateway(t, ump.WithTokenStore(store))
	c := srv.Client(ump.WithTokenStore(store), ump.WithTimeout(30*time.Millisecond), closingHTTP(t),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
	const start, n, workers = 1_000_000, 2000, 8
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: start})
	ctx := context.Background()
	_, err := patient.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}) // the token, before the faults
	require.NoError(t, err)
	srv.Fail(mChange, fault)

	var (
		mu         sync.Mutex
		want       = int64(start)
		unresolved []ump.ScoreChangeRequest
		earlier    int
	)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				req := changeRequest(openID, fmt.Sprintf("L-%04d", i), int64(i%7+1), ump.EventAdd)
				res, err := c.Score.Change(ctx, req)
				var u *ump.ScoreChangeUnresolvedError
				mu.Lock()
				want += req.Score
				switch {
				case err == nil:
					if res.AlreadyApplied {
						earlier++
					}
				case errors.As(err, &u):
					unresolved = append(unresolved, u.Request)
				default:
					t.Errorf("change %d: %v", i, err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	srv.ClearFaults()
	for _, r := range unresolved {
		_, err := patient.Score.Resolve(ctx, &r)
		require.NoError(t, err)
	}
	settle(srv)
	require.Equal(t, want, srv.Balance(openID))
	require.NoError(t, srv.Audit())
	delayed, rollbacks := 0, 0
	for _, r := range srv.Requests() {
		if r.Fault == fault.Kind {
			delayed++
		}
		if r.Method == mRollback {
			rollbacks++
		}
	}
	require.Greater(t, delayed, 50, "the fault was met")
	require.Greater(t, earlier, 0, "some late copies applied before their resend")
	require.Zero(t, rollbacks)
	standing := map[string]int{}
	for _, s := range srv.Ledger(openID) {
		if s.Kind == umptest.KindChange && len(s.ReversedBy) == 0 {
			standing[s.OrderNo]++
		}
	}
	require.Len(t, standing, n)
	for no, k := range standing {
		require.Equal(t, 1, k, "change %s applied once", no)
	}
	t.Logf("%d changes, %d delayed requests, %d settled as applied earlier, %d resolved later", n, delayed, earlier, len(unresolved))
}
