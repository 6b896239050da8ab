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
	m, err := c.Member.Get(t.Context(), MemberQuery{OpenID: "o-1"})
	require.NoError(t, err)
	require.Equal(t, int64(245), m.Score)
	require.Nil(t, m.Rights)
	require.Equal(t, `[{"id":1,name:"免费停车"}]`, m.RightsRaw)
}
