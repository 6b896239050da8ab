package ump

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/wire"
)

// docRequest returns the document's request example testdata/name as a
// generic map, numbers kept as json.Number.
func docRequest(t *testing.T, name string) map[string]any {
	t.Helper()
	return decodeObject(t, []byte(fixture(t, name)))
}

// innerJSON replaces m[key], a string holding JSON, by the value it holds, so
// two bodies compare on content and JSON types rather than on spacing and key
// order inside the string. It fails if m[key] is not a string.
func innerJSON(t *testing.T, m map[string]any, key string) {
	t.Helper()
	s, ok := m[key].(string)
	require.True(t, ok, "%s is %T, want a string holding JSON", key, m[key])
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "%s holds %q", key, s)
	m[key] = v
}

// beijing returns a Beijing wall-clock time.
func beijing(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, wire.Beijing)
}

func TestCouponCreateTemplateMatchesDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.template.add", fixture(t, "coupon-template-add.json"))

	// The values of the document's request example.
	id, err := c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{
		ThirdCouponID: "1629772939065",
		Category:      CouponOrderReduction,
		Name:          "vnjohn1629772939065",
		DiscountFee:   10,
		Validity:      ValidFixedPeriod,
		Rules:         "满200元才能使用",
		BeginTime:     time.UnixMilli(1629859339082),
		EndTime:       time.UnixMilli(1630204939084),
		SuitStore:     SuitSomeStores,
		Stores:        []NamedRef{{ID: "1", Name: "唐家湾"}},
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1309), id)

	got := g.lastBody()
	want := docRequest(t, "coupon-template-add-request.json")
	// Deliberate differences from the example, both sent as the table's
	// String (docs/spec-notes.md#6): the template id, and the store id inside stores.
	assert.Equal(t, json.Number("1629772939065"), want["third_coupon_id"])
	want["third_coupon_id"] = "1629772939065"
	innerJSON(t, got, "stores")
	innerJSON(t, want, "stores")
	want["stores"].([]any)[0].(map[string]any)["id"] = "1"
	assert.Equal(t, want, got)
	// Times are epoch milliseconds as JSON numbers (docs/spec-notes.md#8).
	assert.Equal(t, json.Number("1629859339082"), got["begin_time"])
}

func TestCouponCreateTemplateOptionalFields(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.template.add", `{"success":true,"data":"1310"}`)
	restrict := MemberRestrictNewUsers
	id, err := c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{
		ThirdCouponID:  "T-85",
		Category:       CouponItemDiscount,
		Name:           "8.5折",
		DiscountFee:    85,
		Validity:       ValidDaysAfterReceipt,
		FixedTerm:      10,
		Rules:          "限部分商品",
		MinimumFee:     10000,
		Quantity:       500,
		ClaimNumber:    1,
		CentreStatus:   CouponCentreListed,
		MemberRestrict: &restrict,
		ReceiveMethod:  ReceiveByPoints,
		UseScope:       UseScopeIssuingBusiness,
		SuitItem:       SuitSomeCategories,
		Items:          []NamedRef{{ID: "7", Name: "洗衣粉"}},
		Categories:     []NamedRef{{ID: "c1", Name: "护理"}, {ID: "c2", Name: "<家居&日用>"}},
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1310), id, "a template id sent as a string decodes")

	body := g.calls()[0].Body
	assert.JSONEq(t, `{
		"third_coupon_id":"T-85","coupon_category":4,"name":"8.5折","discount_fee":85,
		"coupon_type":0,"rules":"限部分商品","fixed_term":10,"minimum_fee":10000,
		"quantity":500,"claim_number":1,"coupon_centre_status":1,"member_restrict_type":0,
		"receive_method":1,"use_scope_type":1,"suit_item_type":2,
		"items":"[{\"id\":\"7\",\"name\":\"洗衣粉\"}]",
		"categories":"[{\"id\":\"c1\",\"name\":\"护理\"},{\"id\":\"c2\",\"name\":\"<家居&日用>\"}]"
	}`, string(body))
	// member_restrict_type 0 is a real choice (new users only) and is sent;
	// the unset times, suit_store_type and stores are left out.
	assert.Contains(t, string(body), `"member_restrict_type":0`)
	assert.NotContains(t, string(body), "begin_time")
	assert.NotContains(t, string(body), `"stores"`)
}

func TestCouponCreateTemplateLeavesDefaultsToGateway(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.template.add", fixture(t, "coupon-template-add.json"))
	_, err := c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{
		ThirdCouponID: "T1", Name: "满100减10", DiscountFee: 1000, FixedTerm: 30, Rules: "满100元才能使用",
	})
	require.NoError(t, err)
	// A zero member_restrict_type would mean "new users only"; unset, the
	// gateway's default (everyone) must apply.
	assert.JSONEq(t, `{"third_coupon_id":"T1","coupon_category":0,"name":"满100减10","discount_fee":1000,
		"coupon_type":0,"rules":"满100元才能使用","fixed_term":30}`, string(g.calls()[0].Body))
}

func TestCouponCreateTemplateValidation(t *testing.T) {
	good := func() *CouponTemplateRequest {
		return &CouponTemplateRequest{
			ThirdCouponID: "T1", Category: CouponOrderReduction, Name: "n", DiscountFee: 1000,
			Validity: ValidFixedPeriod, Rules: "r",
			BeginTime: beijing(2021, 7, 21, 12, 12, 12), EndTime: beijing(2021, 8, 21, 12, 12, 12),
		}
	}
	bad := MemberRestrictType(3)
	cases := []struct {
		name   string
		mutate func(*CouponTemplateRequest)
		fields []string
	}{
		{"required", func(q *CouponTemplateRequest) { *q = CouponTemplateRequest{} },
			[]string{"third_coupon_id", "name", "discount_fee", "rules", "fixed_term"}},
		{"blank", func(q *CouponTemplateRequest) { q.ThirdCouponID, q.Name, q.Rules = " ", "\t", "" },
			[]string{"third_coupon_id", "name", "rules"}},
		{"category", func(q *CouponTemplateRequest) { q.Category = 5 }, []string{"coupon_category"}},
		{"negative category", func(q *CouponTemplateRequest) { q.Category = -1 }, []string{"coupon_category"}},
		{"discount over 99", func(q *CouponTemplateRequest) { q.Category, q.DiscountFee = CouponOrderDiscount, 100 }, []string{"discount_fee"}},
		{"item discount 0", func(q *CouponTemplateRequest) { q.Category, q.DiscountFee = CouponItemDiscount, 0 }, []string{"discount_fee"}},
		{"negative fee", func(q *CouponTemplateRequest) { q.DiscountFee = -5 }, []string{"discount_fee"}},
		{"validity", func(q *CouponTemplateRequest) { q.Validity = 2 }, []string{"coupon_type"}},
		{"period without times", func(q *CouponTemplateRequest) { q.BeginTime, q.EndTime = time.Time{}, time.Time{} },
			[]string{"begin_time", "end_time"}},
		{"end before begin", func(q *CouponTemplateRequest) { q.BeginTime, q.EndTime = q.EndTime, q.BeginTime }, []string{"end_time"}},
		{"end equals begin", func(q *CouponTemplateRequest) { q.EndTime = q.BeginTime }, []string{"end_time"}},
		{"days without term", func(q *CouponTemplateRequest) { q.Validity = ValidDaysAfterReceipt }, []string{"fixed_term"}},
		{"negative term", func(q *CouponTemplateRequest) { q.Validity, q.FixedTerm = ValidDaysAfterReceipt, -1 }, []string{"fixed_term", "fixed_term"}},
		{"negatives", func(q *CouponTemplateRequest) { q.MinimumFee, q.Quantity, q.ClaimNumber = -1, -1, -1 },
			[]string{"minimum_fee", "quantity", "claim_number"}},
		{"small enums", func(q *CouponTemplateRequest) {
			q.CentreStatus, q.MemberRestrict, q.ReceiveMethod, q.UseScope, q.SuitStore, q.SuitItem = 2, &bad, 2, 2, 2, 3
		}, []string{"coupon_centre_status", "member_restrict_type", "receive_method", "use_scope_type", "suit_store_type", "suit_item_type"}},
		{"ref ids", func(q *CouponTemplateRequest) {
			q.Stores = []NamedRef{{ID: "1", Name: "a"}, {Name: "b"}}
			q.Items = []NamedRef{{ID: " "}}
			q.Categories = []NamedRef{{Name: "c"}}
		}, []string{"stores[1].id", "items[0].id", "categories[0].id"}},
	}
	c, g := setup(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := good()
			tc.mutate(q)
			_, err := c.Coupon.CreateTemplate(context.Background(), q)
			requireValidation(t, err, "wk.coupon.template.add", tc.fields...)
		})
	}
	_, err := c.Coupon.CreateTemplate(context.Background(), nil)
	requireValidation(t, err, "wk.coupon.template.add", "third_coupon_id", "name", "discount_fee", "rules", "fixed_term")
	assert.Empty(t, g.calls(), "nothing is sent for a bad request")
}

func TestCouponGiveMatchesDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.give", fixture(t, "coupon-give.json"))

	q := &GiveCouponsRequest{
		ThirdCouponID: "123213212",
		CouponSet: []CouponGrant{
			{OpenID: "18023016181", ParamsType: ParamsPhone, CouponNumber: "29b81c45e83b49f5a71b95555aef6d00"},
			{OpenID: "af76d25b97be4c55ab7fb0aff1d06667", ParamsType: ParamsOpenID, CouponNumber: "6c69f766bddf4cf5923e06eea6bdccfb"},
		},
		Number:     1,
		CreateTime: time.UnixMilli(1626671161991),
	}
	given, err := c.Coupon.Give(context.Background(), q)
	require.NoError(t, err)
	// The codes are beyond 2^53: exact only if they never pass through float64.
	assert.Equal(t, []GivenCoupon{
		{Code: 3733288246799497770, OpenID: "168eebeb0d2e4edca2258ce156ec545d"},
		{Code: 3733288242305165352, OpenID: "af76d25b97be4c55ab7fb0aff1d06667"},
	}, given)

	got := g.lastBody()
	want := docRequest(t, "coupon-give-request.json")
	innerJSON(t, got, "coupon_set")
	innerJSON(t, want, "coupon_set")
	assert.Equal(t, want, got)
	// params_type travels as a string, create_time as a number.
	assert.Equal(t, "2", got["coupon_set"].([]any)[0].(map[string]any)["params_type"])
	assert.Equal(t, json.Number("1626671161991"), got["create_time"])
	assert.Equal(t,
		`{"number":1,"coupon_set":"[{\"open_id\":\"18023016181\",\"params_type\":\"2\",\"coupon_number\":\"29b81c45e83b49f5a71b95555aef6d00\"},{\"open_id\":\"af76d25b97be4c55ab7fb0aff1d06667\",\"params_type\":\"1\",\"coupon_number\":\"6c69f766bddf4cf5923e06eea6bdccfb\"}]","create_time":1626671161991,"third_coupon_id":"123213212"}`,
		string(g.calls()[0].Body), "the exact bytes that were signed")
}

func TestCouponGiveDecodesCamelOpenIDAndStringCodes(t *testing.T) {
	c, g := setup(t)
	// The response table spells openId; a code may come as a string.
	g.reply("wk.coupon.give", `{"success":true,"error_code":null,"data":[{"code":"3733288246799497770","openId":"o1"},{"code":9223372036854775807,"open_id":"o2"}]}`)
	given, err := c.Coupon.Give(context.Background(), &GiveCouponsRequest{
		ThirdCouponID: "T1", Number: 1, CreateTime: time.Now(),
		CouponSet: []CouponGrant{{OpenID: "o1", ParamsType: ParamsOpenID, CouponNumber: "n1"}},
	})
	require.NoError(t, err)
	assert.Equal(t, []GivenCoupon{{Code: 3733288246799497770, OpenID: "o1"}, {Code: 9223372036854775807, OpenID: "o2"}}, given)
}

func TestCouponZeroTimesMeanClientNow(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	c, g := setup(t, WithClock(func() time.Time { return now }))
	g.reply("wk.coupon.give", `{"success":true,"data":[]}`)
	g.reply("wk.coupon.verification", fixture(t, "coupon-verification.json"))

	give := &GiveCouponsRequest{ThirdCouponID: "T1", Number: 1,
		CouponSet: []CouponGrant{{OpenID: "o1", ParamsType: ParamsOpenID, CouponNumber: "n1"}}}
	_, err := c.Coupon.Give(context.Background(), give)
	require.NoError(t, err)
	assert.Equal(t, json.Number(strconv.FormatInt(now.UnixMilli(), 10)), g.lastBody()["create_time"])
	assert.True(t, give.CreateTime.IsZero(), "the caller's request is not modified")

	verify := &VerifyCouponsRequest{OpenID: "o1", OrderNo: "A1", ThirdCouponCodes: []string{"n1"}}
	require.NoError(t, c.Coupon.Verify(context.Background(), verify))
	assert.Equal(t, json.Number(strconv.FormatInt(now.UnixMilli(), 10)), g.lastBody()["verification_time"])
	assert.True(t, verify.VerificationTime.IsZero(), "the caller's request is not modified")
}

func TestCouponGiveValidation(t *testing.T) {
	c, g := setup(t)
	grant := func(id string, pt ParamsType, no string) CouponGrant {
		return CouponGrant{OpenID: id, ParamsType: pt, CouponNumber: no}
	}
	cases := []struct {
		name   string
		q      *GiveCouponsRequest
		fields []string
	}{
		{"nil", nil, []string{"third_coupon_id", "coupon_set", "number"}},
		{"empty set", &GiveCouponsRequest{ThirdCouponID: "T", Number: 1, CouponSet: []CouponGrant{}}, []string{"coupon_set"}},
		{"grant fields", &GiveCouponsRequest{ThirdCouponID: "T", Number: 1, CouponSet: []CouponGrant{
			grant("o1", ParamsOpenID, "n1"), {}, grant("o3", "3", "n3"), grant("o4", "open_id", "n4"),
		}}, []string{"coupon_set[1].open_id", "coupon_set[1].params_type", "coupon_set[1].coupon_number",
			"coupon_set[2].params_type", "coupon_set[3].params_type"}},
		{"phone grant", &GiveCouponsRequest{ThirdCouponID: "T", Number: 1, CouponSet: []CouponGrant{
			grant("13800001234", ParamsPhone, "n1"), grant("1802301618", ParamsPhone, "n2"), grant("af76d25b97be", ParamsPhone, "n3"),
		}}, []string{"coupon_set[1].open_id", "coupon_set[2].open_id"}},
		{"coupon numbers", &GiveCouponsRequest{ThirdCouponID: "T", Number: 1, CouponSet: []CouponGrant{
			grant("o1", ParamsOpenID, "n1"), grant("o2", ParamsOpenID, "n1"), grant("o3", ParamsOpenID, "a,b"),
		}}, []string{"coupon_set[1].coupon_number", "coupon_set[2].coupon_number"}},
		{"number", &GiveCouponsRequest{ThirdCouponID: "T", Number: 0, ReceiveStore: -1,
			CouponSet: []CouponGrant{grant("o1", ParamsOpenID, "n1")}}, []string{"number", "receive_store"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Coupon.Give(context.Background(), tc.q)
			requireValidation(t, err, "wk.coupon.give", tc.fields...)
			assert.NotContains(t, err.Error(), "1802301618", "a phone number never appears in an error")
		})
	}
	assert.Empty(t, g.calls(), "nothing is sent for a bad request")
}

func TestCouponSyncStatusMatchesDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.sync.status", fixture(t, "coupon-sync-status.json"))
	code, err := c.Coupon.SyncStatus(context.Background(), &CouponStatusRequest{
		ThirdCouponCode: "550be7757dbf4357a0d79706e2c2c25f",
		OpenID:          "af76d25b97be4c55ab7fb0aff1d06667",
		Status:          CouponInvalid,
	})
	require.NoError(t, err)
	assert.Equal(t, "641e0b64e16d45bc97fdaaec09afc481", code)
	// status 0 (delete) is a value, not an absent field.
	assert.Equal(t, docRequest(t, "coupon-sync-status-request.json"), g.lastBody())
}

func TestCouponSyncStatusValidation(t *testing.T) {
	c, g := setup(t)
	_, err := c.Coupon.SyncStatus(context.Background(), &CouponStatusRequest{Status: 5})
	requireValidation(t, err, "wk.coupon.sync.status", "third_coupon_code", "open_id", "status")
	_, err = c.Coupon.SyncStatus(context.Background(), &CouponStatusRequest{ThirdCouponCode: "x", OpenID: "o", Status: -1})
	requireValidation(t, err, "wk.coupon.sync.status", "status")
	_, err = c.Coupon.SyncStatus(context.Background(), nil)
	requireValidation(t, err, "wk.coupon.sync.status", "third_coupon_code", "open_id")
	assert.Empty(t, g.calls())
}

func TestCouponVerifyMatchesDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.verification", fixture(t, "coupon-verification.json"))
	err := c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{
		OpenID:           "168eebeb0d2e4edca2258ce156ec545d",
		OrderNo:          "1231",
		ThirdCouponCodes: []string{"641e0b64-e16d-45bc-97fd-aaec09afc4811"},
		VerificationTime: time.UnixMilli(1626511148756),
		StoreID:          12,
	})
	require.NoError(t, err)
	assert.Equal(t, docRequest(t, "coupon-verification-request.json"), g.lastBody())
}

func TestCouponVerifyJoinsCodesAndAcceptsAnyData(t *testing.T) {
	c, g := setup(t)
	for _, answer := range []string{
		`{"success":true,"data":"void"}`, // the table types data as String "void"
		`{"success":true}`,
		`{"success":true,"error_code":200,"data":{}}`,
	} {
		g.reply("wk.coupon.verification", answer)
		err := c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{
			OpenID: "13800001234", OrderNo: "A-1", ThirdCouponCodes: []string{"21315", "5484", "244"},
			VerificationTime: time.UnixMilli(1626452993977),
		})
		require.NoError(t, err, answer)
		body := g.lastBody()
		assert.Equal(t, "21315,5484,244", body["third_coupon_codes"])
		assert.Equal(t, json.Number("1626452993977"), body["verification_time"])
		assert.NotContains(t, body, "store_id", "store_id is optional since V2.2")
	}
}

func TestCouponVerifyValidation(t *testing.T) {
	c, g := setup(t)
	err := c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{StoreID: -1})
	requireValidation(t, err, "wk.coupon.verification", "open_id", "order_no", "third_coupon_codes", "store_id")
	err = c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{
		OpenID: "o", OrderNo: "1", ThirdCouponCodes: []string{"a", "", "b,c"},
	})
	requireValidation(t, err, "wk.coupon.verification", "third_coupon_codes[1]", "third_coupon_codes[2]")
	err = c.Coupon.Verify(context.Background(), nil)
	requireValidation(t, err, "wk.coupon.verification", "open_id", "order_no", "third_coupon_codes")
	assert.Empty(t, g.calls())
}

func TestCouponListUserCouponsDecodesDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.user.list", fixture(t, "coupon-user-list.json"))
	q := &UserCouponsRequest{OpenID: "168eebeb0d2e4edca2258ce156ec545d"}
	p, err := c.Coupon.ListUserCoupons(context.Background(), q)
	require.NoError(t, err)

	// The document's example sends page_size as "15"; the table says Integer.
	want := docRequest(t, "coupon-user-list-request.json")
	assert.Equal(t, "15", want["page_size"])
	want["page_size"] = json.Number("15")
	assert.Equal(t, want, g.lastBody(), "defaults page 1 of 15 sent as numbers, no status filter")
	assert.Equal(t, UserCouponsRequest{OpenID: "168eebeb0d2e4edca2258ce156ec545d"}, *q, "the caller's request is not modified")

	assert.Equal(t, 1, p.PageNo)
	assert.Equal(t, 15, p.PageSize)
	assert.Equal(t, 1, p.TotalCount)
	require.Len(t, p.Items, 1)
	got := p.Items[0]
	assert.True(t, time.UnixMilli(1627401600000).Equal(got.EndTime))
	assert.True(t, time.UnixMilli(1626452602000).Equal(got.BeginTime))
	assert.True(t, time.UnixMilli(1626452602000).Equal(got.ReceiveTime))
	assert.Equal(t, beijing(2021, 7, 28, 0, 0, 0), got.EndTime.In(wire.Beijing))
	got.BeginTime, got.EndTime, got.ReceiveTime = time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, UserCoupon{
		ID:              306784,
		CouponCode:      3735473975794516910,
		TemplateID:      1307,
		ThirdCouponCode: "eeea1682-93d2-443c-b995-fc6cdf37ea22",
		Name:            "测试优惠券",
		Category:        CouponOrderReduction,
		Rules:           "满100元才能使用",
		DiscountFee:     10,
		MinimumFee:      100,
		Validity:        ValidDaysAfterReceipt,
		FixedTerm:       10,
		MemberRestrict:  MemberRestrictAll,
		UseScope:        UseScopeIssuingBusiness,
		SuitStore:       SuitSomeStores,
		SuitItem:        SuitSomeItems,
		Stores:          []NamedRef{{ID: "1", Name: "唐家湾"}},
		Items:           []NamedRef{{ID: "1", Name: "洗衣粉"}},
		Categories:      nil,
		UseOrderNo:      "",
		Status:          CouponValid,
	}, got)
}

func TestCouponListUserCouponsFiltersAndLenientAnswers(t *testing.T) {
	c, g := setup(t)
	// Ids as strings, stores as a bare array, numbers as strings, null
	// paging: everything the document's habits allow.
	g.reply("wk.coupon.user.list", `{"success":true,"data":[{"coupon_code":"3735473975794516910","id":"5",
		"stores":[{"id":"S-9","name":"拱北"}],"items":"","categories":null,"status":"3","use_order_no":"A-77",
		"coupon_category":"2","discount_fee":85,"coupon_type":1,"begin_time":"2021-07-21 12:12:12","end_time":null}],
		"pageNo":null,"pageSize":null,"totalCount":"31"}`)
	p, err := c.Coupon.ListUserCoupons(context.Background(), &UserCouponsRequest{
		OpenID: "13800001234", Status: CouponInUse, PageRequest: PageRequest{PageNo: 3, PageSize: 10},
	})
	require.NoError(t, err)
	assert.JSONEq(t, `{"open_id":"13800001234","page_no":3,"page_size":10,"status":3}`, string(g.calls()[0].Body))
	assert.Equal(t, 3, p.PageNo, "the requested page when the gateway does not say")
	assert.Equal(t, 10, p.PageSize)
	assert.Equal(t, 31, p.TotalCount)
	got := p.Items[0]
	assert.Equal(t, int64(3735473975794516910), got.CouponCode)
	assert.Equal(t, int64(5), got.ID)
	assert.Equal(t, []NamedRef{{ID: "S-9", Name: "拱北"}}, got.Stores)
	assert.Nil(t, got.Items)
	assert.Equal(t, CouponInUse, got.Status)
	assert.Equal(t, "A-77", got.UseOrderNo)
	assert.True(t, got.Category.IsDiscount())
	assert.Equal(t, ValidFixedPeriod, got.Validity)
	assert.Equal(t, beijing(2021, 7, 21, 12, 12, 12), got.BeginTime)
	assert.True(t, got.EndTime.IsZero())
}

func TestCouponListUserCouponsValidation(t *testing.T) {
	c, g := setup(t)
	_, err := c.Coupon.ListUserCoupons(context.Background(), &UserCouponsRequest{
		Status: 4, PageRequest: PageRequest{PageNo: -1, PageSize: 101},
	})
	requireValidation(t, err, "wk.coupon.user.list", "open_id", "status", "page_no", "page_size")
	_, err = c.Coupon.ListUserCoupons(context.Background(), &UserCouponsRequest{OpenID: "o", PageRequest: PageRequest{PageSize: -1}})
	requireValidation(t, err, "wk.coupon.user.list", "page_size")
	_, err = c.Coupon.ListUserCoupons(context.Background(), nil)
	requireValidation(t, err, "wk.coupon.user.list", "open_id")
	assert.Empty(t, g.calls())
}

// userCouponPages serves total coupons in pages, their codes 1..total, and
// fails page failPage (0: none) with error 1001.
func userCouponPages(t *testing.T, g *gateway, total, failPage int) {
	g.handle("wk.coupon.user.list", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		var q struct {
			PageNo   int `json:"page_no"`
			PageSize int `json:"page_size"`
		}
		require.NoError(t, json.Unmarshal(b, &q))
		if q.PageNo == failPage {
			_, _ = io.WriteString(w, `{"success":false,"error_code":1001,"error_message":"参数异常"}`)
			return
		}
		var items []string
		for i := (q.PageNo-1)*q.PageSize + 1; i <= min(q.PageNo*q.PageSize, total); i++ {
			items = append(items, `{"coupon_code":`+strconv.Itoa(i)+`}`)
		}
		_, _ = io.WriteString(w, `{"success":true,"data":[`+strings.Join(items, ",")+`],"pageNo":`+strconv.Itoa(q.PageNo)+
			`,"pageSize":`+strconv.Itoa(q.PageSize)+`,"totalCount":`+strconv.Itoa(total)+`}`)
	})
}

func collectCodes(seq func(func(UserCoupon, error) bool)) ([]int64, error) {
	var codes []int64
	for uc, err := range seq {
		if err != nil {
			return codes, err
		}
		codes = append(codes, uc.CouponCode)
	}
	return codes, nil
}

func pageNos(t *testing.T, g *gateway) []string {
	var out []string
	for _, r := range g.calls() {
		out = append(out, decodeObject(t, r.Body)["page_no"].(json.Number).String())
	}
	return out
}

func TestCouponAllUserCoupons(t *testing.T) {
	t.Run("several pages", func(t *testing.T) {
		c, g := setup(t)
		userCouponPages(t, g, 5, 0)
		q := &UserCouponsRequest{OpenID: "o1", Status: CouponValid, PageRequest: PageRequest{PageSize: 2}}
		codes, err := collectCodes(c.Coupon.AllUserCoupons(context.Background(), q))
		require.NoError(t, err)
		assert.Equal(t, []int64{1, 2, 3, 4, 5}, codes)
		assert.Equal(t, []string{"1", "2", "3"}, pageNos(t, g))
		assert.Equal(t, UserCouponsRequest{OpenID: "o1", Status: CouponValid, PageRequest: PageRequest{PageSize: 2}}, *q,
			"the caller's request is not modified")
		for _, r := range g.calls() {
			body := decodeObject(t, r.Body)
			assert.Equal(t, json.Number("2"), body["page_size"])
			assert.Equal(t, json.Number("1"), body["status"])
		}
	})
	t.Run("exact multiple of the page size, default size", func(t *testing.T) {
		c, g := setup(t)
		userCouponPages(t, g, 30, 0)
		codes, err := collectCodes(c.Coupon.AllUserCoupons(context.Background(), &UserCouponsRequest{OpenID: "o1"}))
		require.NoError(t, err)
		assert.Len(t, codes, 30)
		assert.Equal(t, []string{"1", "2"}, pageNos(t, g), "totalCount ends the walk without an empty page")
	})
	t.Run("from a later page", func(t *testing.T) {
		c, g := setup(t)
		userCouponPages(t, g, 5, 0)
		codes, err := collectCodes(c.Coupon.AllUserCoupons(context.Background(),
			&UserCouponsRequest{OpenID: "o1", PageRequest: PageRequest{PageNo: 2, PageSize: 2}}))
		require.NoError(t, err)
		assert.Equal(t, []int64{3, 4, 5}, codes)
		assert.Equal(t, []string{"2", "3"}, pageNos(t, g))
	})
	t.Run("empty", func(t *testing.T) {
		c, g := setup(t)
		g.reply("wk.coupon.user.list", `{"success":true,"data":[],"pageNo":1,"pageSize":15,"totalCount":0}`)
		codes, err := collectCodes(c.Coupon.AllUserCoupons(context.Background(), &UserCouponsRequest{OpenID: "o1"}))
		require.NoError(t, err)
		assert.Empty(t, codes)
		assert.Len(t, g.calls(), 1)
	})
	t.Run("error mid-way", func(t *testing.T) {
		c, g := setup(t)
		userCouponPages(t, g, 5, 2)
		codes, err := collectCodes(c.Coupon.AllUserCoupons(context.Background(),
			&UserCouponsRequest{OpenID: "o1", PageRequest: PageRequest{PageSize: 2}}))
		assert.Equal(t, []int64{1, 2}, codes, "the first page's coupons came before the error")
		require.ErrorIs(t, err, ErrInvalidParameters)
		assert.Len(t, g.calls(), 2, "the walk stops at the failed page")
	})
	t.Run("bad request", func(t *testing.T) {
		c, g := setup(t)
		n := 0
		for _, err := range c.Coupon.AllUserCoupons(context.Background(), nil) {
			n++
			requireValidation(t, err, "wk.coupon.user.list", "open_id")
		}
		assert.Equal(t, 1, n, "the error is yielded once")
		assert.Empty(t, g.calls())
	})
	t.Run("stop early", func(t *testing.T) {
		c, g := setup(t)
		userCouponPages(t, g, 5, 0)
		for uc, err := range c.Coupon.AllUserCoupons(context.Background(),
			&UserCouponsRequest{OpenID: "o1", PageRequest: PageRequest{PageSize: 2}}) {
			require.NoError(t, err)
			if uc.CouponCode == 1 {
				break
			}
		}
		assert.Len(t, g.calls(), 1, "no page is fetched after the caller stops")
	})
}

// TestCouponRetryClasses: an answer that leaves the outcome open (HTTP 502
// from a proxy) is repeated only for the calls that cannot apply twice.
func TestCouponRetryClasses(t *testing.T) {
	cases := []struct {
		method     string
		ok         string
		idempotent bool
		do         func(*Client) error
	}{
		{"wk.coupon.template.add", `{"success":true,"data":1}`, false, func(c *Client) error {
			_, err := c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{
				ThirdCouponID: "T", Name: "n", DiscountFee: 1, Rules: "r", FixedTerm: 1})
			return err
		}},
		{"wk.coupon.give", `{"success":true,"data":[]}`, false, func(c *Client) error {
			_, err := c.Coupon.Give(context.Background(), &GiveCouponsRequest{ThirdCouponID: "T", Number: 1,
				CouponSet: []CouponGrant{{OpenID: "o", ParamsType: ParamsOpenID, CouponNumber: "n"}}})
			return err
		}},
		{"wk.coupon.sync.status", `{"success":true,"data":"n"}`, true, func(c *Client) error {
			_, err := c.Coupon.SyncStatus(context.Background(), &CouponStatusRequest{ThirdCouponCode: "n", OpenID: "o", Status: CouponUsed})
			return err
		}},
		{"wk.coupon.verification", `{"success":true,"data":null}`, false, func(c *Client) error {
			return c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{OpenID: "o", OrderNo: "1", ThirdCouponCodes: []string{"n"}})
		}},
		{"wk.coupon.user.list", `{"success":true,"data":[]}`, true, func(c *Client) error {
			_, err := c.Coupon.ListUserCoupons(context.Background(), &UserCouponsRequest{OpenID: "o"})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			c, g := setup(t)
			var n atomic.Int32
			g.handle(tc.method, func(w http.ResponseWriter, _ *http.Request) {
				if n.Add(1) == 1 {
					http.Error(w, "<html>Bad Gateway</html>", http.StatusBadGateway)
					return
				}
				_, _ = io.WriteString(w, tc.ok)
			})
			err := tc.do(c)
			if tc.idempotent {
				require.NoError(t, err)
				assert.Len(t, g.calls(), 2)
				assert.Equal(t, g.calls()[0].Body, g.calls()[1].Body, "the repeat sends the same body")
			} else {
				require.ErrorIs(t, err, ErrOutcomeUnknown)
				var ou *OutcomeUnknownError
				require.ErrorAs(t, err, &ou)
				assert.Equal(t, tc.method, ou.Method)
				assert.Len(t, g.calls(), 1, "never repeated once it may have reached the gateway")
			}
		})
	}
}

func TestCouponAPIErrors(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.coupon.template.add", `{"success":false,"error_code":130001,"error_message":"优惠券创建失败"}`)
	g.reply("wk.coupon.sync.status", `{"success":false,"error_code":130003,"error_message":"优惠券状态更新失败"}`)
	g.reply("wk.coupon.verification", `{"success":false,"error_code":130002,"error_message":"优惠券不存在","data":null}`)

	_, err := c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{
		ThirdCouponID: "T", Name: "n", DiscountFee: 1, Rules: "r", FixedTerm: 1})
	require.ErrorIs(t, err, ErrCouponCreateFailed)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "优惠券创建失败", ae.Message)

	_, err = c.Coupon.SyncStatus(context.Background(), &CouponStatusRequest{ThirdCouponCode: "n", OpenID: "o"})
	require.ErrorIs(t, err, ErrCouponStatusUpdateFailed)
	assert.Len(t, g.calls(), 2, "a definite failure is not repeated, even for an idempotent call")

	err = c.Coupon.Verify(context.Background(), &VerifyCouponsRequest{OpenID: "o", OrderNo: "1", ThirdCouponCodes: []string{"n"}})
	require.ErrorIs(t, err, ErrCouponNotFound)
	assert.False(t, errors.Is(err, ErrOutcomeUnknown))
}
