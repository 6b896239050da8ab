package ump_test

// End-to-end tests: every service of the SDK against umptest's stateful
// gateway, asserting what a user relies on: the state the calls leave on
// the platform (balances, ledgers, coupons), the platform's codes as the
// SDK's sentinels, and the token calls they cost. The exact wire of each
// call is tested in package ump against setup(t); these tests do not
// repeat it.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// e2eStart is a Beijing morning, far from a day boundary, so no daily limit
// resets under a test.
var e2eStart = time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// e2e starts a gateway on a clock that stands at e2eStart and returns it
// with a client on the same clock, whose retries wait milliseconds.
func e2e(t *testing.T, opts ...umptest.Option) (*umptest.Server, *ump.Client, context.Context) {
	t.Helper()
	srv := umptest.NewServer(append([]umptest.Option{umptest.WithClock(umptest.NewClock(e2eStart))}, opts...)...)
	t.Cleanup(srv.Close)
	c := srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return srv, c, ctx
}

// requireNothingSent fails unless err is a *ValidationError and the gateway
// received no request since before (a count of srv.Requests()).
func requireNothingSent(t *testing.T, srv *umptest.Server, before int, err error) {
	t.Helper()
	var ve *ump.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, srv.Requests(), before, "a request was sent")
}

func TestE2EMembers(t *testing.T) {
	srv, c, ctx := e2e(t)

	birthday := time.Date(1994, 9, 28, 0, 0, 0, 0, time.UTC)
	openID, err := c.Member.Create(ctx, &ump.CreateMemberRequest{
		ProjectID: "18756", Nickname: "李大哥", Phone: "15980944959",
		Gender: ump.GenderMale, Birthday: birthday, Email: "li@example.com", City: "珠海",
	})
	require.NoError(t, err)
	stored, ok := srv.Member(openID)
	require.True(t, ok, "Create's open_id is the platform's")
	assert.Equal(t, "15980944959", stored.Phone)
	assert.Equal(t, "1994-09-28", stored.Birthday)

	_, err = c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "18756", Nickname: "again", Phone: "15980944959"})
	var refused *ump.APIError
	require.ErrorAs(t, err, &refused, "a phone registers once")
	assert.Equal(t, int64(190001), refused.Code, "umptest's invented code: the document names none")

	byPhone, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: "15980944959"})
	require.NoError(t, err)
	byID, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	assert.Equal(t, byPhone, byID, "the same member either way")
	assert.Equal(t, openID, byID.OpenID)
	assert.Equal(t, "李大哥", byID.Nickname)
	assert.Equal(t, ump.GenderMale, byID.Gender)
	assert.Equal(t, "1994-09-28", byID.Birthday.Format("2006-01-02"))
	assert.Equal(t, "li@example.com", byID.Email)
	assert.Equal(t, stored.UserNum, byID.UserNum)
	assert.True(t, byID.RegisterTime.Equal(e2eStart), "registered at %v", byID.RegisterTime)
	assert.Equal(t, int64(1), byID.LevelNumber)
	assert.Equal(t, "一级会员", byID.LevelName)
	assert.Equal(t, int64(300), byID.NextLevelGrowthValue)

	_, err = c.Member.Get(ctx, &ump.MemberQuery{Phone: "13900000000"})
	require.ErrorIs(t, err, ump.ErrMemberNotBound)

	code, err := c.Member.GenerateCode(ctx, openID)
	require.NoError(t, err)
	assert.Len(t, code, 20)
	byCode, err := c.Member.GetByCode(ctx, code)
	require.NoError(t, err)
	assert.Equal(t, openID, byCode.OpenID)
	byPhoneCode, err := c.Member.GenerateCode(ctx, "15980944959")
	require.NoError(t, err, "a phone number works as the open_id")
	assert.NotEqual(t, code, byPhoneCode)

	var levels []ump.Level
	for lv, err := range c.Member.AllLevels(ctx, &ump.PageRequest{PageSize: 3}) {
		require.NoError(t, err)
		levels = append(levels, lv)
	}
	require.Len(t, levels, len(srv.Levels()), "every level, across pages of 3")
	for i, lv := range srv.Levels() {
		assert.Equal(t, ump.Level{ID: lv.ID, Number: lv.Number, Name: lv.Name}, levels[i])
	}
	assert.Equal(t, 3, srv.Stats().Calls["wk.user.level.list"], "7 levels, 3 a page")

	n := len(srv.Requests())
	_, err = c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "18756", Nickname: "x", Phone: "1598094495"})
	requireNothingSent(t, srv, n, err)
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID, Phone: "15980944959"})
	requireNothingSent(t, srv, n, err)
}

// TestE2EMemberCodeExpires: a member code parses for a minute, then the
// platform answers 110006.
func TestE2EMemberCodeExpires(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	code, err := c.Member.GenerateCode(ctx, openID)
	require.NoError(t, err)

	srv.Clock().Advance(59 * time.Second)
	_, err = c.Member.GetByCode(ctx, code)
	require.NoError(t, err, "still fresh")
	srv.Clock().Advance(2 * time.Second)
	_, err = c.Member.GetByCode(ctx, code)
	require.ErrorIs(t, err, ump.ErrMemberCodeExpired)
	var apiErr *ump.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, int64(110006), apiErr.Code)
	assert.Equal(t, "wk.user.code.parsing", apiErr.Method)
}

// TestE2ECodesByCall: a gateway answering 3.6's and 3.7's own tables
// (umptest.WithPerCallCodes): an expired member code is 110001, which
// matches ErrMemberCodeExpired and not ErrPhoneEmpty; "system busy" is
// 1001, which is sent again.
func TestE2ECodesByCall(t *testing.T) {
	srv, c, ctx := e2e(t, umptest.WithPerCallCodes())
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	code, err := c.Member.GenerateCode(ctx, openID)
	require.NoError(t, err)
	srv.Clock().Advance(61 * time.Second)
	_, err = c.Member.GetByCode(ctx, code)
	require.ErrorIs(t, err, ump.ErrMemberCodeExpired)
	require.NotErrorIs(t, err, ump.ErrPhoneEmpty)
	var apiErr *ump.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, int64(110001), apiErr.Code)
	assert.Contains(t, err.Error(), "error 110001 (member code expired)")

	srv.ResetStats()
	srv.Fail("wk.user.code.generate", umptest.Fault{Kind: umptest.SystemBusy, Times: 1})
	_, err = c.Member.GenerateCode(ctx, openID)
	require.NoError(t, err, "1001 from 3.6 is system busy: sent again")
	assert.Equal(t, 2, srv.Stats().Calls["wk.user.code.generate"])
}

func TestE2EScore(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 100})
	change := func(ev ump.ChangeEvent, points int64, changeID string) (*ump.ScoreChangeResult, error) {
		return c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: points, OutBizNo: "B-" + changeID,
			OrderAmount: ump.Yuan(10, 0), ChangeReason: "test", ChangeEvent: ev, ChangeID: changeID})
	}

	add := ump.NewChangeID()
	added, err := change(ump.EventAdd, 50, add)
	require.NoError(t, err)
	assert.Equal(t, int64(150), srv.Balance(openID))
	_, err = change(ump.EventSubtract, 30, ump.NewChangeID())
	require.NoError(t, err)
	assert.Equal(t, int64(120), srv.Balance(openID))

	_, err = change(ump.EventAdd, 50, add)
	require.ErrorIs(t, err, ump.ErrAlreadyExists, "150002 on a first send: the change_id was used before, nothing moved")
	assert.Equal(t, int64(120), srv.Balance(openID))
	again, err := c.Score.Resolve(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 50, OutBizNo: "B-" + add,
		OrderAmount: ump.Yuan(10, 0), ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: add})
	require.NoError(t, err, "150002 to Resolve: the change had applied")
	assert.Equal(t, &ump.ScoreChangeResult{ChangeID: add, AlreadyApplied: true}, again)
	_, err = change(ump.EventSubtract, 1000, ump.NewChangeID())
	require.ErrorIs(t, err, ump.ErrInsufficientPoints, "150003")
	_, err = change("event_unregistered", 1, ump.NewChangeID())
	require.ErrorIs(t, err, ump.ErrNoScoreRule, "150001")
	assert.Equal(t, int64(120), srv.Balance(openID), "refused changes move nothing")

	rb, err := c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: openID, StatementID: added.StatementID,
		RollbackScore: 50, ChangeID: ump.NewChangeID()})
	require.NoError(t, err)
	assert.Equal(t, added.StatementID, rb.StatementID)
	assert.Equal(t, int64(70), srv.Balance(openID))
	_, err = c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: openID, StatementID: added.StatementID,
		RollbackScore: 50, ChangeID: ump.NewChangeID()})
	require.ErrorIs(t, err, ump.ErrInvalidParameters, "nothing of the statement is left to roll back")
	assert.Equal(t, int64(70), srv.Balance(openID))
	// 3.4's example: the statement_id with the change's own change_id,
	// which is taken.
	_, err = c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: openID, StatementID: added.StatementID,
		RollbackScore: 50, ChangeID: add})
	require.ErrorIs(t, err, ump.ErrAlreadyExists)
	assert.Equal(t, int64(70), srv.Balance(openID), "nothing moved")

	// Records, newest first, page after page; the ledger is the truth.
	ledger := srv.Ledger(openID)
	require.Len(t, ledger, 4) // opening balance, +50, -30, rollback -50
	srv.ResetStats()
	var amounts []int64
	for r, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: openID, PageRequest: ump.PageRequest{PageSize: 3}}) {
		require.NoError(t, err)
		amounts = append(amounts, r.Amount)
		assert.True(t, r.CreateTime.Equal(e2eStart), "Beijing wall clock decoded: %v", r.CreateTime)
	}
	assert.Equal(t, []int64{-50, -30, 50, 100}, amounts)
	assert.Equal(t, 2, srv.Stats().Calls["wk.user.score.record"], "4 records, 3 a page")

	page, err := c.Score.Records(ctx, &ump.ScoreRecordsRequest{OpenID: openID, ScoreType: ump.ScoreIncome})
	require.NoError(t, err)
	assert.Equal(t, 2, page.TotalCount, "income only: the opening balance and +50")
	assert.Equal(t, 10, page.PageSize)
	require.NoError(t, srv.Audit())
}

// TestE2EScoreOutcomeUnknown: a change whose answer was lost, or which
// never arrived, is sent again under its own change_id: it applies once,
// and nothing is rolled back (docs/spec-notes.md#20).
func TestE2EScoreOutcomeUnknown(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 100})
	_, err := c.Auth.AccessToken(ctx) // keep the token call out of the faults' way
	require.NoError(t, err)

	for _, tc := range []struct {
		fault   umptest.FaultKind
		applied bool
	}{{umptest.DropAfterApply, true}, {umptest.DropBeforeApply, false}} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			before := srv.Balance(openID)
			srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: tc.fault, Times: 1})
			id := ump.NewChangeID()
			res, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 40, OutBizNo: "B-" + id,
				ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: id})
			require.NoError(t, err)
			assert.Equal(t, id, res.ChangeID, "sent again under the same change_id")
			assert.Equal(t, tc.applied, res.AlreadyApplied, "150002 to the resend: the lost one had applied")
			assert.Equal(t, before+40, srv.Balance(openID), "applied once")

			var kinds []string
			for _, st := range srv.Ledger(openID) {
				if st.ChangeID == id {
					kinds = append(kinds, st.Kind)
				}
			}
			assert.Equal(t, []string{umptest.KindChange}, kinds, "one change, no rollback")
		})
	}
	require.NoError(t, srv.Audit())
}

// TestE2EResolveAfterThePointsWereSpent: a change whose answers were all
// lost, and whose points the member has spent since. Resolve settles it by
// what the gateway's answer proves (150002: it applied); it never needs to
// take the points back, so an insufficient balance cannot leave it
// unresolved.
func TestE2EResolveAfterThePointsWereSpent(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001", Score: 0})
	_, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)

	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply})
	lost := &ump.ScoreChangeRequest{OpenID: openID, Score: 100, OutBizNo: "B-lost", OrderAmount: ump.Yuan(10, 0),
		ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()}
	_, err = c.Score.Change(ctx, lost)
	var unresolved *ump.ScoreChangeUnresolvedError
	require.ErrorAs(t, err, &unresolved)
	srv.ClearFaults()

	spend := &ump.ScoreChangeRequest{OpenID: openID, Score: 100, OutBizNo: "B-spend", OrderAmount: ump.Yuan(10, 0),
		ChangeReason: "test", ChangeEvent: ump.EventSubtract, ChangeID: ump.NewChangeID()}
	_, err = c.Score.Change(ctx, spend)
	require.NoError(t, err)
	require.Equal(t, int64(0), srv.Balance(openID))

	res, err := c.Score.Resolve(ctx, &unresolved.Request)
	require.NoError(t, err)
	assert.True(t, res.AlreadyApplied)
	assert.Equal(t, int64(0), srv.Balance(openID), "+100 once, -100 once")
	require.NoError(t, srv.Audit())
}

func TestE2EOrders(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	details := func(no string, amount ump.Amount, points int64) ump.OrderDetails {
		return ump.OrderDetails{OrderNo: no, Phone: "13800000001", ConsumeDate: e2eStart.Add(-time.Hour),
			OrderAmount: amount, OrderScore: points}
	}

	sale, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: details("S1", ump.Yuan(1000, 40), 100)})
	require.NoError(t, err)
	assert.Equal(t, int64(100), sale.OrderScore)
	assert.Equal(t, int64(100), srv.Balance(openID))
	o, ok := srv.Order("S1")
	require.True(t, ok)
	assert.Equal(t, ump.Yuan(1000, 40), o.Amount, "the amount arrived exact")
	assert.Equal(t, sale.OrderID, o.ID)
	assert.Equal(t, sale.StatementID, o.StatementID)
	assert.True(t, o.ConsumeDate.Equal(e2eStart.Add(-time.Hour)), "consume_date in Beijing time: %v", o.ConsumeDate)
	m, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	require.NoError(t, err)
	assert.Equal(t, int64(100), m.GrowthValue, "a sale adds its points to the growth value")

	_, err = c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: details("S1", ump.Yuan(1000, 40), 100)})
	require.ErrorIs(t, err, ump.ErrAlreadyExists, "an order_no is synced once")
	assert.Equal(t, int64(100), srv.Balance(openID))

	refund := func(no, parent string, points int64) error {
		_, err := c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: details(no, ump.Yuan(300, 0), points), ParentOrderNo: parent})
		return err
	}
	require.NoError(t, refund("S1-R1", "S1", 30))
	assert.Equal(t, int64(70), srv.Balance(openID))
	require.ErrorIs(t, refund("S1-R2", "S1", 71), ump.ErrInvalidParameters, "more than the sale granted")
	require.ErrorIs(t, refund("S1-R3", "NO-SUCH", 1), ump.ErrOrderNotFound)
	assert.Equal(t, int64(70), srv.Balance(openID))

	n := len(srv.Requests())
	_, err = c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: "S2"}})
	requireNothingSent(t, srv, n, err)

	// A sale whose answer is lost is not sent twice.
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	_, err = c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: details("S3", ump.Yuan(10, 0), 10)})
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	var unknown *ump.OutcomeUnknownError
	require.ErrorAs(t, err, &unknown)
	assert.Equal(t, "order_no=S3", unknown.Key)
	assert.Equal(t, int64(80), srv.Balance(openID), "applied once")
	assert.Equal(t, 3, srv.Stats().Calls["wk.user.consume.order"], "S1, S1 again, S3: no retry")
	require.NoError(t, srv.Audit())
}

func TestE2ECoupons(t *testing.T) {
	srv, c, ctx := e2e(t)
	alice := srv.AddMember(umptest.Member{Phone: "13800000001"})
	bob := srv.AddMember(umptest.Member{Phone: "13800000002"})

	tplID, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: "T1", Category: ump.CouponOrderReduction, Name: "满200减20", DiscountFee: 2000,
		MinimumFee: 20000, Validity: ump.ValidDaysAfterReceipt, FixedTerm: 7, Rules: "满200可用",
	})
	require.NoError(t, err)
	require.NotZero(t, tplID)
	_, err = c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{ThirdCouponID: "T1", Name: "again",
		DiscountFee: 1, FixedTerm: 1, Rules: "r"})
	require.ErrorIs(t, err, ump.ErrCouponCreateFailed, "a third_coupon_id is used once (130001)")

	given, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: "T1", Number: 1, CouponSet: []ump.CouponGrant{
		{OpenID: "13800000001", ParamsType: ump.ParamsPhone, CouponNumber: "A-1"},
		{OpenID: "13800000001", ParamsType: ump.ParamsPhone, CouponNumber: "A-2"},
		{OpenID: alice, ParamsType: ump.ParamsOpenID, CouponNumber: "A-3"},
		{OpenID: bob, ParamsType: ump.ParamsOpenID, CouponNumber: "B-1"},
	}})
	require.NoError(t, err)
	require.Len(t, given, 4)
	held := srv.Coupons(alice)
	require.Len(t, held, 3)
	for i, h := range held {
		assert.Equal(t, h.Code, given[i].Code, "19-digit code, exact")
		assert.Greater(t, given[i].Code, int64(1)<<53)
		assert.Equal(t, alice, given[i].OpenID, "the member's open_id, also when given by phone")
	}
	assert.Equal(t, bob, given[3].OpenID)

	// Three coupons, one a page.
	var listed []ump.UserCoupon
	for uc, err := range c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: alice, PageRequest: ump.PageRequest{PageSize: 1}}) {
		require.NoError(t, err)
		listed = append(listed, uc)
	}
	require.Len(t, listed, 3)
	assert.Equal(t, 3, srv.Stats().Calls["wk.coupon.user.list"])
	byNumber := map[string]ump.UserCoupon{}
	for _, uc := range listed {
		byNumber[uc.ThirdCouponCode] = uc
	}
	a1 := byNumber["A-1"]
	assert.Equal(t, held[0].Code, a1.CouponCode)
	assert.Equal(t, tplID, a1.TemplateID)
	assert.Equal(t, "满200减20", a1.Name)
	assert.Equal(t, int64(2000), a1.DiscountFee)
	assert.Equal(t, ump.CouponValid, a1.Status)
	assert.True(t, a1.EndTime.Equal(e2eStart.AddDate(0, 0, 7)), "valid 7 days from receipt: %v", a1.EndTime)

	// Status sync withdraws A-2 (repeatable); A-1 is used on an order.
	for range 2 {
		third, err := c.Coupon.SyncStatus(ctx, &ump.CouponStatusRequest{ThirdCouponCode: "A-2", OpenID: alice, Status: ump.CouponInvalid})
		require.NoError(t, err)
		assert.Equal(t, "A-2", third)
	}
	require.NoError(t, c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: "13800000001", OrderNo: "O-1", ThirdCouponCodes: []string{"A-1"}}))
	held = srv.Coupons(alice)
	assert.Equal(t, int64(umptest.CouponUsed), held[0].Status)
	assert.Equal(t, "O-1", held[0].UseOrderNo)
	assert.Equal(t, int64(umptest.CouponInvalid), held[1].Status)

	valid, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: alice, Status: ump.CouponValid})
	require.NoError(t, err)
	require.Len(t, valid.Items, 1)
	assert.Equal(t, "A-3", valid.Items[0].ThirdCouponCode)
	used, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: alice, Status: ump.CouponUsed})
	require.NoError(t, err)
	require.Len(t, used.Items, 1)
	assert.Equal(t, "O-1", used.Items[0].UseOrderNo)

	verify := func(codes ...string) error {
		return c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: alice, OrderNo: "O-2", ThirdCouponCodes: codes})
	}
	require.ErrorIs(t, verify("A-1"), ump.ErrCouponStatusUpdateFailed, "used already (130003)")
	require.ErrorIs(t, verify("A-2"), ump.ErrCouponStatusUpdateFailed, "withdrawn (130003)")
	require.ErrorIs(t, verify("B-1"), ump.ErrCouponNotFound, "Bob's, not Alice's (130002)")
	require.ErrorIs(t, verify("A-3", "B-1"), ump.ErrCouponNotFound, "all or nothing")
	assert.Equal(t, int64(umptest.CouponValid), srv.Coupons(alice)[2].Status, "A-3 untouched")

	_, err = c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: "T1", Number: 1, CouponSet: []ump.CouponGrant{
		{OpenID: "13900000009", ParamsType: ump.ParamsPhone, CouponNumber: "X-1"},
	}})
	require.ErrorIs(t, err, ump.ErrMemberNotBound)
	n := len(srv.Requests())
	_, err = c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: "T1", Number: 1, CouponSet: []ump.CouponGrant{
		{OpenID: "13800000001", ParamsType: ump.ParamsPhone, CouponNumber: "A-1,A-2"},
	}})
	requireNothingSent(t, srv, n, err)
}

func TestE2ESMS(t *testing.T) {
	srv, c, ctx := e2e(t)
	const phone = "13800000001"
	require.NoError(t, c.SMS.SendCode(ctx, phone))
	code, ok := srv.LastSMSCode(phone)
	require.True(t, ok)
	require.Len(t, code, 6)

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	require.ErrorIs(t, c.SMS.VerifyCode(ctx, phone, wrong), ump.ErrSMSCodeWrong)
	require.NoError(t, c.SMS.VerifyCode(ctx, phone, code))
	require.ErrorIs(t, c.SMS.VerifyCode(ctx, phone, code), ump.ErrSMSCodeWrong, "a code verifies once")

	require.NoError(t, c.SMS.SendCode(ctx, phone))
	code, _ = srv.LastSMSCode(phone)
	srv.Clock().Advance(5 * time.Minute)
	require.ErrorIs(t, c.SMS.VerifyCode(ctx, phone, code), ump.ErrSMSCodeWrong, "expired after 5 minutes")
}

// TestE2ESMSDailyLimit: ten codes per phone per Beijing day (140004), and
// a new day starts a new count.
func TestE2ESMSDailyLimit(t *testing.T) {
	srv, c, ctx := e2e(t)
	const phone = "13800000002"
	for i := range 10 {
		require.NoError(t, c.SMS.SendCode(ctx, phone), "code %d", i+1)
	}
	err := c.SMS.SendCode(ctx, phone)
	require.ErrorIs(t, err, ump.ErrSMSDailyLimit)
	require.False(t, errors.Is(err, ump.ErrOutcomeUnknown), "a definite refusal")
	require.NoError(t, c.SMS.SendCode(ctx, "13800000003"), "the limit is per phone")

	srv.Clock().Advance(14 * time.Hour) // past Beijing midnight; the token is refreshed on the way
	require.NoError(t, c.SMS.SendCode(ctx, phone))
}

// TestE2ETokenExpiry: past the token's 2 hours, the next calls, however
// many at once, cost exactly one refresh and no obtain; a token the gateway
// retires early costs one more refresh, after one rejected call.
func TestE2ETokenExpiry(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	get := func() error {
		_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
		return err
	}
	require.NoError(t, get())
	require.Equal(t, 1, srv.Stats().TokenObtains)

	srv.Clock().Advance(2*time.Hour + time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- get()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := srv.Stats()
	assert.Equal(t, 1, st.TokenObtains, "no second obtain")
	assert.Equal(t, 1, st.TokenRefreshes, "exactly one refresh for 16 calls")
	assert.Equal(t, 0, st.Rejected, "refreshed before any call was refused")

	srv.Clock().Advance(time.Hour)
	require.NoError(t, get())
	assert.Equal(t, 1, srv.Stats().TokenRefreshes, "the refreshed token lasts 2 hours")

	srv.ExpireAccessTokens()
	require.NoError(t, get(), "refused once, refreshed, repeated")
	st = srv.Stats()
	assert.Equal(t, 2, st.TokenRefreshes)
	assert.Equal(t, 1, st.Rejected)
	assert.Equal(t, 1, st.TokenObtains)

	status, err := c.Auth.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, status.Obtains)
	assert.Equal(t, 2, status.Refreshes)
}

// ResolveConsume's first attempt applies the sale but its answer is lost;
// the next two are answered "system busy". An earlier attempt may have
// applied, so the result is an unknown outcome, not a definite refusal.
func TestE2EResolveConsumeAfterALostAttemptIsNotDefinite(t *testing.T) {
	srv, c, ctx := e2e(t)
	openID := srv.AddMember(umptest.Member{Phone: "13800000001"})
	d := ump.OrderDetails{OrderNo: "S9", Phone: "13800000001", ConsumeDate: e2eStart.Add(-time.Hour),
		OrderAmount: ump.Yuan(10, 0), OrderScore: 10}
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropBeforeApply, Times: 1})
	_, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: d})
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)

	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.SystemBusy, Times: 2})
	_, err = c.Order.ResolveConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: d})
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	require.Equal(t, int64(10), srv.Balance(openID), "the sale applied once")

	srv.ClearFaults()
	res, err := c.Order.ResolveConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: d})
	require.NoError(t, err)
	require.True(t, res.AlreadyApplied)
	require.Equal(t, int64(10), srv.Balance(openID), "still once")
}
