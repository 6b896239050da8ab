// Command coupon-campaign runs a small coupon campaign (document section 5):
// it creates a coupon template, gives one coupon to each member on a list of
// phone numbers, lists what each member holds, and redeems one coupon at
// the till.
//
//	go run ./examples/coupon-campaign
//
// With no settings it runs against an in-process test gateway with three
// members and a fourth number that belongs to nobody. Against a real
// gateway (UMP_BASE_URL, UMP_APP_ID, UMP_APP_SECRET, see
// examples/quickstart), UMP_PHONE lists the members, comma-separated.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/examples/internal/gateway"
	"github.com/greedc/ump-go/umptest"
)

func main() {
	gateway.Main(time.Minute, func(ctx context.Context) int {
		return run(ctx, os.Getenv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	gw, code := gateway.Setup("coupon-campaign", getenv, stderr)
	if gw == nil {
		return code
	}
	defer gw.Close()
	fmt.Fprintln(stdout, "mode:", gw.Mode)

	cp := campaign{id: "SPRING-" + ump.NewChangeID()[:6], phones: gw.Phones, start: time.Now()}
	if srv := gw.Sandbox; srv != nil {
		cp.id, cp.phones = "SPRING-001", []string{"13800000001", "13800000002", "13800000003", "13900000004"}
		for _, p := range cp.phones[:3] {
			srv.AddMember(umptest.Member{Phone: p})
		}
	}
	if err := cp.run(ctx, gw.Client, stdout); err != nil {
		fmt.Fprintln(stderr, "coupon-campaign:", err)
		return 1
	}
	return 0
}

// campaign gives one coupon of a new template to each member in phones.
type campaign struct {
	// id is the template's third_coupon_id; each coupon's number is id and
	// the member's place in phones.
	id     string
	phones []string
	start  time.Time
}

func (cp campaign) run(ctx context.Context, c *ump.Client, out io.Writer) error {
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

	// A template valid for 30 days: 20 yuan off an order of 200, one per
	// member. Money is in fen.
	tplID, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: cp.id, Name: "20 off 200", Category: ump.CouponOrderReduction,
		DiscountFee: 2000, MinimumFee: 20000, Rules: "20 yuan off an order of 200 yuan or more",
		Validity: ump.ValidFixedPeriod, BeginTime: cp.start, EndTime: cp.start.AddDate(0, 0, 30),
		ClaimNumber: 1,
	})
	if err != nil {
		return fmt.Errorf("create template %s: %w", cp.id, err)
	}
	say("template %s: platform id %d", cp.id, tplID)

	// Give is all or nothing: one number without a member fails the whole
	// call, so look the numbers up first.
	var grants []ump.CouponGrant
	for i, phone := range cp.phones {
		_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
		switch {
		case errors.Is(err, ump.ErrMemberNotBound):
			say("skipped  %s: not a member", mask(phone))
			continue
		case err != nil:
			return fmt.Errorf("look up %s: %w", mask(phone), err)
		}
		grants = append(grants, ump.CouponGrant{OpenID: phone, ParamsType: ump.ParamsPhone,
			CouponNumber: fmt.Sprintf("%s-%d", cp.id, i+1)})
	}
	if len(grants) == 0 {
		return errors.New("no member to give coupons to")
	}
	given, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: cp.id, Number: 1, CouponSet: grants})
	if errors.Is(err, ump.ErrOutcomeUnknown) {
		// Not repeated by the SDK: list the members' coupons to see which
		// numbers arrived before giving again.
		return fmt.Errorf("give: the answer was lost; list the members' coupons for %s-* before giving again: %w", cp.id, err)
	}
	if err != nil {
		return fmt.Errorf("give: %w", err)
	}
	say("gave     %d coupons", len(given))

	// What each member holds now. A phone number works wherever an open_id
	// is asked for; AllUserCoupons walks every page.
	for _, g := range grants {
		for uc, err := range c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: g.OpenID}) {
			if err != nil {
				return fmt.Errorf("list coupons of %s: %w", mask(g.OpenID), err)
			}
			say("holds    %s: %s %q, code %d, %s until %s", mask(g.OpenID),
				uc.ThirdCouponCode, uc.Name, uc.CouponCode, statusNames[uc.Status], uc.EndTime.Format("2006-01-02"))
		}
	}

	// The first member spends the coupon at the till.
	first := grants[0]
	order := cp.id + "-ORDER-1"
	err = c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: first.OpenID, OrderNo: order,
		ThirdCouponCodes: []string{first.CouponNumber}})
	switch {
	case errors.Is(err, ump.ErrOutcomeUnknown):
		return fmt.Errorf("verify: the answer was lost; list %s's used coupons before trying again: %w", mask(first.OpenID), err)
	case errors.Is(err, ump.ErrCouponStatusUpdateFailed): // 130003: used, expired or withdrawn
		return fmt.Errorf("verify: coupon %s cannot be used: %w", first.CouponNumber, err)
	case err != nil:
		return fmt.Errorf("verify: %w", err)
	}
	used, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: first.OpenID, Status: ump.CouponUsed})
	if err != nil {
		return fmt.Errorf("list used coupons: %w", err)
	}
	say("used     %s on order %s; %s has %d used coupon(s)", first.CouponNumber, order, mask(first.OpenID), used.TotalCount)
	return nil
}

// statusNames are the states of a member's coupon (5.5's answer).
var statusNames = map[ump.CouponStatus]string{
	ump.CouponInvalid: "withdrawn", ump.CouponValid: "valid", ump.CouponUsed: "used",
	ump.CouponInUse: "in use", ump.CouponNotStarted: "not yet valid",
}

// mask hides the middle of a phone number: 138****0001.
func mask(phone string) string {
	if len(phone) < 7 {
		return "****"
	}
	return phone[:3] + "****" + phone[len(phone)-4:]
}
