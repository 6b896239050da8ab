package ump

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// JSON inside a string that is not JSON keeps its text, and the rest of the
// answer decodes (docs/spec-notes.md#22).
func TestJSONInStringThatIsNotJSONKeepsItsText(t *testing.T) {
	c, g := setup(t)
	// stores: 5.1's request example, the one quote the document left
	// unescaped escaped (docs/spec-notes.md#17); it is valid JSON then.
	// items and categories: 5.1's table examples, whose key name has no
	// quotes, which no syntax fix of the outer answer can mend.
	g.reply("wk.coupon.user.list", `{"success":true,"data":[{"coupon_code":3733288246799497770,"id":5,"name":"满100减10",
		"stores":"[{\"name\":\"唐家湾\",\"id\":1}]",
		"items":" [{\"id\":\"1\",name:\"香皂\"}]",
		"categories":" [{\"id\":\"1\",name:\"护理\"}]",
		"status":1}],"pageNo":1,"pageSize":10,"totalCount":1}`)
	p, err := c.Coupon.ListUserCoupons(t.Context(), &UserCouponsRequest{OpenID: "o-1"})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	got := p.Items[0]
	require.Equal(t, int64(3733288246799497770), got.CouponCode)
	require.Equal(t, "满100减10", got.Name)
	require.Equal(t, CouponValid, got.Status)
	require.Equal(t, []NamedRef{{ID: "1", Name: "唐家湾"}}, got.Stores)
	require.Empty(t, got.StoresRaw)
	require.Nil(t, got.Items)
	require.Equal(t, ` [{"id":"1",name:"香皂"}]`, got.ItemsRaw)
	require.Nil(t, got.Categories)
	require.Equal(t, ` [{"id":"1",name:"护理"}]`, got.CategoriesRaw)

	g.reply("wk.user.info.query", `{"success":true,"data":{"open_id":"o-1","score":245,
		"rights":"[{\"id\":1,name:\"免费停车\"}]"}}`)
	m, err := c.Member.Get(t.Context(), &MemberQuery{OpenID: "o-1"})
	require.NoError(t, err)
	require.Equal(t, int64(245), m.Score)
	require.Nil(t, m.Rights)
	require.Equal(t, `[{"id":1,name:"免费停车"}]`, m.RightsRaw)
}

// A write the gateway answered success for, whose data cannot be read, is
// neither a failure nor zeros: it says it was applied, with what did decode.
func TestAppliedButUnreadable(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.template.add", `{"success":true,"data":{"id":1309},"error_code":null}`)
	id, err := c.Coupon.CreateTemplate(t.Context(), &CouponTemplateRequest{
		ThirdCouponID: "tpl-1", Name: "满100减10", DiscountFee: 1000, Rules: "满100可用", FixedTerm: 30,
	})
	require.ErrorIs(t, err, ErrAppliedUnreadable)
	require.Zero(t, id)
	require.Contains(t, err.Error(), "wk.coupon.template.add: the call was applied, but its answer could not be read")
	require.False(t, Retryable(err))
	var ae *AppliedUnreadableError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "wk.coupon.template.add", ae.Method)
	var re *ResponseError
	require.ErrorAs(t, err, &re, "the sample of the answer goes with it")
	require.Len(t, g.calls(), 1, "not sent again")

	// 19-digit codes as floats: not exact, so not read; the open_ids were.
	g.reply("wk.coupon.give", `{"success":true,"data":[
		{"code":3.733288246799498e18,"open_id":"168eebeb0d2e4edca2258ce156ec545d"},
		{"code":3733288242305165352,"open_id":"af76d25b97be4c55ab7fb0aff1d06667"}]}`)
	given, err := c.Coupon.Give(t.Context(), &GiveCouponsRequest{ThirdCouponID: "tpl-1", Number: 1, CouponSet: []CouponGrant{
		{OpenID: "168eebeb0d2e4edca2258ce156ec545d", ParamsType: ParamsOpenID, CouponNumber: "cn-1"},
		{OpenID: "af76d25b97be4c55ab7fb0aff1d06667", ParamsType: ParamsOpenID, CouponNumber: "cn-2"},
	}})
	require.ErrorIs(t, err, ErrAppliedUnreadable)
	require.False(t, Retryable(err))
	require.Equal(t, []GivenCoupon{
		{Code: 0, OpenID: "168eebeb0d2e4edca2258ce156ec545d"},
		{Code: 3733288242305165352, OpenID: "af76d25b97be4c55ab7fb0aff1d06667"},
	}, given)
	require.Len(t, g.calls(), 2)

	// A read whose data does not decode is a plain *ResponseError, retried.
	g.reply("wk.user.info.query", `{"success":true,"data":[1,2]}`)
	_, err = c.Member.Get(t.Context(), &MemberQuery{OpenID: "o-1"})
	require.ErrorAs(t, err, &re)
	require.NotErrorIs(t, err, ErrAppliedUnreadable)
}
