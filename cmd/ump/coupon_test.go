package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
)

// couponWorld is a member holding three coupons of two templates, one of
// them used.
func couponWorld(t *testing.T) (*world, string) {
	t.Helper()
	w := newWorld(t)
	m := w.addMember(t)
	ctx := context.Background()
	_, err := w.sdk.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: "tpl-cash", Category: ump.CouponOrderReduction, Name: "满100减10 <店庆>",
		DiscountFee: 1000, MinimumFee: 10000, Validity: ump.ValidFixedPeriod, Rules: "每单限用一张",
		BeginTime: t0, EndTime: t0.Add(30 * 24 * time.Hour),
	})
	require.NoError(t, err)
	_, err = w.sdk.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{
		ThirdCouponID: "tpl-off", Category: ump.CouponItemDiscount, Name: "咖啡八五折",
		DiscountFee: 85, Validity: ump.ValidDaysAfterReceipt, FixedTerm: 7, Rules: "限饮品",
	})
	require.NoError(t, err)
	for _, g := range []struct{ tpl, number string }{{"tpl-cash", "C-1"}, {"tpl-cash", "C-2"}, {"tpl-off", "D-1"}} {
		w.clock.Advance(time.Minute)
		_, err := w.sdk.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: g.tpl, Number: 1,
			CouponSet: []ump.CouponGrant{{OpenID: m.OpenID, ParamsType: ump.ParamsOpenID, CouponNumber: g.number}}})
		require.NoError(t, err)
	}
	_, err = w.sdk.Coupon.SyncStatus(ctx, &ump.CouponStatusRequest{ThirdCouponCode: "C-2", OpenID: m.OpenID, Status: ump.CouponUsed})
	require.NoError(t, err)
	return w, m.OpenID
}

func TestCouponList(t *testing.T) {
	w, openID := couponWorld(t)
	r := w.run(t, "coupon", "list", "--open-id", openID).ok(t)
	golden(t, "coupon-list", r.stdout)
	require.Empty(t, r.stderr)

	r = w.run(t, "coupon", "list", "--open-id", "13800000000", "--status", "valid", "--page-size", "1").ok(t)
	golden(t, "coupon-list-valid-page", r.stdout)
	require.Equal(t, "page 1 of 2 (2 coupons); --page 2 for the next, --all for every page\n", r.stderr)

	var l listView[couponView]
	decodeJSON(t, w.run(t, "coupon", "list", "--open-id", openID, "--page-size", "1", "--all", "-o", "json").ok(t).stdout, &l)
	require.Len(t, l.Items, 3)
	require.Equal(t, 3, l.TotalCount)
	require.Zero(t, l.PageNo, "every page: no page number")
	held := w.srv.Coupons(openID)
	byNumber := map[string]couponView{}
	for _, c := range l.Items {
		byNumber[c.ThirdCouponCode] = c
	}
	for _, h := range held {
		c := byNumber[h.ThirdCouponCode]
		require.Len(t, c.CouponCode, 19)
		require.Equal(t, h.Code, mustInt(t, c.CouponCode), "the 19-digit code, exact")
		require.Equal(t, ump.CouponStatus(h.Status), c.Status)
	}
	require.Equal(t, int64(85), byNumber["D-1"].DiscountFee)
	require.Equal(t, "满100减10 <店庆>", byNumber["C-1"].Name)
}
