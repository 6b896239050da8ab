package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	ump "github.com/greedc/ump-go"
)

// journey is one member's way through the platform, touching every service
// of the SDK.
type journey struct {
	// phone and project are the member's phone number and the store
	// (project_id) the member registers at.
	phone, project string
	// run goes into this run's order numbers and coupon ids, so the journey
	// can run again against the same gateway without colliding with itself.
	run string
	// smsCode returns the SMS code sent to phone, or "" to skip the check.
	smsCode func(ctx context.Context, phone string) (string, error)
}

// walk runs the journey with c, printing a line per step to out. It stops at
// the first failure, naming the step.
func (j journey) walk(ctx context.Context, c *ump.Client, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	phone := mask(j.phone)

	// Token: the first call obtains one (or reuses the stored one); the SDK
	// refreshes it before it expires. Status shows it without revealing it.
	if _, err := c.Auth.AccessToken(ctx); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	st, err := c.Auth.Status(ctx)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	say("token:    ready, expires in %v (today: %d obtain, %d refreshes)",
		time.Until(st.Token.AccessExpiresAt).Round(time.Minute), st.Obtains, st.Refreshes)

	// Members (3.1, 3.2): register, then look up by phone and by open_id.
	openID, err := c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: j.project, Nickname: "Quick Start", Phone: j.phone})
	if err != nil {
		// The document names no code for a phone registered already, so
		// look the phone up rather than read the refusal's code.
		m, getErr := c.Member.Get(ctx, &ump.MemberQuery{Phone: j.phone})
		if getErr != nil {
			return fmt.Errorf("register member: %w", err)
		}
		openID = m.OpenID
		say("member:   %s is registered already, open_id %s", phone, openID)
	} else {
		say("member:   registered %s, open_id %s", phone, openID)
	}
	if openID == "" {
		openID = j.phone // every call that takes an open_id takes the phone too
	}
	m, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: j.phone})
	if err != nil {
		return fmt.Errorf("look up by phone: %w", err)
	}
	say("lookup:   by phone: %s, level %d (%s), %d points", m.Nickname, m.LevelNumber, m.LevelName, m.Score)
	if m, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}); err != nil {
		return fmt.Errorf("look up by open_id: %w", err)
	}
	say("lookup:   by open_id: the same member (%s), member number %s", mask(m.Phone), m.UserNum)

	// Member codes (3.6, 3.7): the number a member shows at the till.
	code, err := c.Member.GenerateCode(ctx, openID)
	if err != nil {
		return fmt.Errorf("generate member code: %w", err)
	}
	if m, err = c.Member.GetByCode(ctx, code); err != nil {
		return fmt.Errorf("parse member code: %w", err)
	}
	say("code:     a %d-digit member code, which parses back to %s", len(code), mask(m.Phone))

	// Orders (4.1, 4.2): a sale grants points, a return takes some back.
	// Amounts are exact: Yuan(128, 50) is 128.50, never a float.
	sale := "QS-" + j.run + "-1"
	now := time.Now()
	so, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: sale, OpenID: openID, ConsumeDate: now, OrderAmount: ump.Yuan(128, 50), OrderScore: 128, Desc: "quickstart sale",
	}})
	if err != nil {
		return fmt.Errorf("sync sale: %w", err) // ErrOutcomeUnknown: reconcile sale before resending
	}
	say("order:    sale %s of %s yuan: +%d points", sale, ump.Yuan(128, 50), so.OrderScore)
	ro, err := c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{ParentOrderNo: sale, OrderDetails: ump.OrderDetails{
		OrderNo: sale + "R", OpenID: openID, ConsumeDate: now, OrderAmount: ump.Yuan(28, 50), OrderScore: 28, Desc: "quickstart return",
	}})
	if err != nil {
		return fmt.Errorf("sync return: %w", err)
	}
	say("order:    return %s of %s yuan: -%d points", sale+"R", ump.Yuan(28, 50), ro.OrderScore)

	// Points (3.3, 3.4): a change keyed by a change_id, then its rollback,
	// which names the change's statement and carries a new change_id.
	ch, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{
		OpenID: openID, Score: 50, OutBizNo: "QS-" + j.run + "-bonus", ChangeReason: "quickstart bonus",
		ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID(),
	})
	if err != nil {
		return fmt.Errorf("change points: %w", err)
	}
	say("points:   +50, statement %s", ch.StatementID)
	if _, err := c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{
		OpenID: openID, StatementID: ch.StatementID, RollbackScore: 50, ChangeID: ump.NewChangeID(),
	}); err != nil {
		return fmt.Errorf("roll back points: %w", err)
	}
	say("points:   statement %s rolled back", ch.StatementID)

	// Score records (3.5): AllRecords fetches page after page (3 a page here,
	// to show it); break ends the walk early.
	say("records:  newest first, fetched 3 a page:")
	n := 0
	for r, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: openID, PageRequest: ump.PageRequest{PageSize: 3}}) {
		if err != nil {
			return fmt.Errorf("list score records: %w", err)
		}
		say("          %+5d  %s", r.Amount, r.Desc)
		if n++; n == 6 {
			break // the newest six are enough here
		}
	}

	// Coupons (5.1, 5.2, 5.5, 5.4): a template, two coupons of it, the
	// member's valid coupons, one of them used on the sale.
	tpl := "QS-" + j.run + "-TPL"
	tplID, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: tpl, Category: ump.CouponOrderReduction, Name: "10 off 100",
		DiscountFee: 1000, MinimumFee: 10000, // fen
		Validity: ump.ValidDaysAfterReceipt, FixedTerm: 30, Rules: "10 yuan off an order of 100 yuan or more",
	})
	if err != nil {
		return fmt.Errorf("create coupon template: %w", err)
	}
	say("coupons:  template %s created, platform id %d", tpl, tplID)
	numbers := []string{"QS-" + j.run + "-C1", "QS-" + j.run + "-C2"} // our own coupon numbers
	given, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: tpl, Number: 1, CouponSet: []ump.CouponGrant{
		{OpenID: openID, ParamsType: ump.ParamsOpenID, CouponNumber: numbers[0]},
		{OpenID: openID, ParamsType: ump.ParamsOpenID, CouponNumber: numbers[1]},
	}})
	if err != nil {
		return fmt.Errorf("give coupons: %w", err)
	}
	codes := make([]string, len(given))
	for i, g := range given {
		codes[i] = fmt.Sprint(g.Code) // 19 digits, exact
	}
	say("coupons:  gave %d to %s, platform codes %s", len(given), phone, strings.Join(codes, ", "))
	valid := func() (int, error) {
		n := 0
		for _, err := range c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: openID, Status: ump.CouponValid}) {
			if err != nil {
				return 0, err
			}
			n++
		}
		return n, nil
	}
	held, err := valid()
	if err != nil {
		return fmt.Errorf("list coupons: %w", err)
	}
	say("coupons:  %s holds %d valid", phone, held)
	if err := c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: openID, OrderNo: sale, ThirdCouponCodes: numbers[:1]}); err != nil {
		return fmt.Errorf("verify coupon: %w", err)
	}
	if held, err = valid(); err != nil {
		return fmt.Errorf("list coupons: %w", err)
	}
	say("coupons:  %s used on order %s; %d still valid", numbers[0], sale, held)

	// SMS (6.1, 6.2): send a code, then check the one the member received.
	if err := c.SMS.SendCode(ctx, j.phone); err != nil {
		return fmt.Errorf("send SMS code: %w", err)
	}
	say("sms:      code sent to %s", phone)
	smsCode, err := j.smsCode(ctx, j.phone)
	switch {
	case err != nil:
		return fmt.Errorf("read SMS code: %w", err)
	case smsCode == "":
		say("sms:      check skipped: no code (set UMP_SMS_CODE, or run in a terminal to type it)")
	default:
		if err := c.SMS.VerifyCode(ctx, j.phone, smsCode); err != nil {
			return fmt.Errorf("check SMS code: %w", err) // a wrong code: errors.Is(err, ump.ErrSMSCodeWrong)
		}
		say("sms:      code checked")
	}

	if m, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}); err != nil {
		return fmt.Errorf("look up balance: %w", err)
	}
	say("balance:  %d points, growth %d, level %d (%s)", m.Score, m.GrowthValue, m.LevelNumber, m.LevelName)
	return nil
}

// mask hides the middle of a phone number, 138****8000: logs and terminals
// are no place for a member's full number.
func mask(phone string) string {
	if len(phone) < 7 {
		return "****"
	}
	return phone[:3] + "****" + phone[len(phone)-4:]
}
