package ump_test

import (
	"context"
	"errors"
	"fmt"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// Give two coupons of template "T-202107": one to a member known by phone,
// one to a member known by open_id, against the in-process test gateway.
// Each coupon carries the integrator's own number, which 5.3-5.5 name it by.
func ExampleCouponService_Give() {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "18023016181"})
	other := srv.AddMember(umptest.Member{Phone: "13800000002"})
	c := srv.Client()
	ctx := context.Background()

	_, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: "T-202107", Name: "满100减10", DiscountFee: 1000, MinimumFee: 10000, // fen
		Validity: ump.ValidDaysAfterReceipt, FixedTerm: 30, Rules: "满100元可用",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	given, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{
		ThirdCouponID: "T-202107",
		Number:        1,
		CouponSet: []ump.CouponGrant{
			{OpenID: "18023016181", ParamsType: ump.ParamsPhone, CouponNumber: "29b81c45e83b49f5a71b95555aef6d00"},
			{OpenID: other, ParamsType: ump.ParamsOpenID, CouponNumber: "6c69f766bddf4cf5923e06eea6bdccfb"},
		},
		// CreateTime left zero: now, by the client's clock.
	})
	switch {
	case errors.Is(err, ump.ErrOutcomeUnknown):
		// Not repeated automatically: check with ListUserCoupons first.
		fmt.Println("outcome unknown:", err)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println("given:", len(given)) // each with the platform's 19-digit code and the member's open_id

	page, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: "18023016181"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, uc := range page.Items {
		fmt.Println(uc.ThirdCouponCode, uc.Name, uc.Status == ump.CouponValid)
	}
	// Output:
	// given: 2
	// 29b81c45e83b49f5a71b95555aef6d00 满100减10 true
}
