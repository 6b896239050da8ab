package ump

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// The coupon model of section 5: the enumerations of its fields, the
// coupons 5.2 gives and a member's coupon as 5.5 answers it. The calls are
// in coupon.go.

// CouponCategory is a coupon's kind (coupon_category).
type CouponCategory int

// Coupon categories. The two discount categories carry a discount of 1..99 in
// discount_fee instead of an amount of money.
const (
	CouponOrderReduction    CouponCategory = 0 // 订单满减: money off an order above a threshold
	CouponOrderFreeShipping CouponCategory = 1 // 订单免运费: free shipping on an order
	CouponOrderDiscount     CouponCategory = 2 // 订单折扣: a discount on an order
	CouponItemReduction     CouponCategory = 3 // 商品满减: money off items above a threshold
	CouponItemDiscount      CouponCategory = 4 // 商品折扣: a discount on items
)

// IsDiscount reports whether the category's discount_fee is a discount
// (1..99) rather than an amount of money.
func (c CouponCategory) IsDiscount() bool {
	return c == CouponOrderDiscount || c == CouponItemDiscount
}

// CouponValidity says how a coupon's validity period is set (coupon_type).
type CouponValidity int

// Validity kinds.
const (
	// ValidDaysAfterReceipt: valid for FixedTerm days after the member
	// receives the coupon (领取时间以后多少天有效).
	ValidDaysAfterReceipt CouponValidity = 0
	// ValidFixedPeriod: valid from BeginTime to EndTime (固定时间段).
	ValidFixedPeriod CouponValidity = 1
)

// CouponStatus is the state of a member's coupon (status in 5.3 and in the
// answer of 5.5).
//
// The document's 5.5 request uses the same field as a filter with other
// meanings: 1 valid, 2 used, 3 expired (已过期). So in
// UserCouponsRequest.Status, CouponInUse (3) asks for expired coupons, while
// in 5.3 and in UserCoupon.Status 3 means "in use" (使用中). The SDK sends and
// returns the number unchanged.
type CouponStatus int

// Coupon states.
const (
	CouponInvalid    CouponStatus = 0 // 无效/删除: invalid or deleted
	CouponValid      CouponStatus = 1 // 有效: valid
	CouponUsed       CouponStatus = 2 // 已经使用: used
	CouponInUse      CouponStatus = 3 // 使用中: in use (as the 5.5 filter: expired)
	CouponNotStarted CouponStatus = 4 // 未开始: not yet valid
)

// ParamsType says what a grant's OpenID holds (params_type of
// coupon_set, sent as the strings "1" and "2").
type ParamsType string

// Grant addressing.
const (
	ParamsOpenID ParamsType = "1" // the member's open_id
	ParamsPhone  ParamsType = "2" // the member's mainland mobile number
)

// MemberRestrictType says who may receive a template's coupons
// (member_restrict_type).
type MemberRestrictType int

// Receiving conditions. The gateway's default is MemberRestrictAll.
const (
	MemberRestrictNewUsers MemberRestrictType = 0 // 限定新用户: new users only
	MemberRestrictLevel    MemberRestrictType = 1 // 限定会员等级: certain member levels
	MemberRestrictAll      MemberRestrictType = 2 // 全部: everyone
)

// ReceiveMethod says how a member receives a coupon (receive_method).
type ReceiveMethod int

// Receiving methods. The gateway's default is ReceiveFree.
const (
	ReceiveFree     ReceiveMethod = 0 // 免费: free
	ReceiveByPoints ReceiveMethod = 1 // 积分兑换: exchanged for points
)

// CouponCentreStatus is the channel a template's coupons are offered through
// (coupon_centre_status). The document names one value, which is also its
// default; zero leaves the field out.
type CouponCentreStatus int

// Channels.
const (
	CouponCentreListed CouponCentreStatus = 1 // 领券中心: the coupon centre
)

// UseScopeType limits where a coupon can be redeemed (use_scope_type). The
// document's default is 0, whose meaning it does not spell out; zero leaves
// the field out.
type UseScopeType int

// Redemption scopes.
const (
	// UseScopeIssuingBusiness: only in the line of business (业态) that gave
	// the coupon.
	UseScopeIssuingBusiness UseScopeType = 1
)

// SuitStoreType says which stores or merchants accept a coupon
// (suit_store_type).
type SuitStoreType int

// Store scopes. The gateway's default is SuitAllStores.
const (
	SuitAllStores  SuitStoreType = 0 // 适用于所有门店/商家: every store
	SuitSomeStores SuitStoreType = 1 // 部分门店/商家: the stores listed in Stores
)

// SuitItemType says which goods a coupon applies to (suit_item_type).
type SuitItemType int

// Item scopes. The gateway's default is SuitAllItems.
const (
	SuitAllItems       SuitItemType = 0 // 适用于所有商品: every item
	SuitSomeItems      SuitItemType = 1 // 部分商品: the items listed in Items
	SuitSomeCategories SuitItemType = 2 // 部分类目: the categories listed in Categories
)

// NamedRef is an entry of a template's stores, items or categories: the
// integrator's id and a display name.
type NamedRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// UserCoupon is a coupon a member holds (an entry of 5.5's answer).
type UserCoupon struct {
	// ID is the platform's id of this member's coupon (id).
	ID int64
	// CouponCode is the platform's coupon code from Give, a 19-digit
	// integer, exact.
	CouponCode int64
	// TemplateID is the platform's template id from CreateTemplate
	// (coupon_info_id).
	TemplateID int64
	// ThirdCouponCode is the integrator's CouponNumber from Give.
	ThirdCouponCode string
	Name            string
	Category        CouponCategory
	Rules           string
	// DiscountFee is the face value in fen (分), or the discount 1..99 for
	// the discount categories.
	DiscountFee int64
	// MinimumFee is the spending threshold in fen (分).
	MinimumFee int64
	// Validity (coupon_type) with FixedTerm (days) or BeginTime..EndTime.
	Validity  CouponValidity
	FixedTerm int
	BeginTime time.Time
	EndTime   time.Time
	// ReceiveTime is when the member received the coupon.
	ReceiveTime    time.Time
	MemberRestrict MemberRestrictType
	UseScope       UseScopeType
	SuitStore      SuitStoreType
	SuitItem       SuitItemType
	Stores         []NamedRef
	Items          []NamedRef
	Categories     []NamedRef
	// StoresRaw, ItemsRaw and CategoriesRaw hold the gateway's text of
	// stores, items or categories when it is not the JSON list it should be
	// (the document's own examples are not always valid JSON,
	// docs/spec-notes.md#22); the list is empty then. Empty otherwise.
	StoresRaw     string
	ItemsRaw      string
	CategoriesRaw string
	// UseOrderNo is the order the coupon was used for, if any.
	UseOrderNo string
	Status     CouponStatus
}

// UserCouponPage is one page of a member's coupons.
type UserCouponPage = Page[UserCoupon]

// namedRefData decodes a NamedRef whose id may be a number or a string.
type namedRefData struct {
	ID   wire.String `json:"id"`
	Name wire.String `json:"name"`
}

type userCouponData struct {
	ID                 wire.Int64                             `json:"id"`
	CouponCode         wire.Int64                             `json:"coupon_code"`
	CouponInfoID       wire.Int64                             `json:"coupon_info_id"`
	ThirdCouponCode    wire.String                            `json:"third_coupon_code"`
	Name               wire.String                            `json:"name"`
	CouponCategory     wire.Int64                             `json:"coupon_category"`
	Rules              wire.String                            `json:"rules"`
	DiscountFee        wire.Int64                             `json:"discount_fee"`
	MinimumFee         wire.Int64                             `json:"minimum_fee"`
	CouponType         wire.Int64                             `json:"coupon_type"`
	FixedTerm          wire.Int64                             `json:"fixed_term"`
	BeginTime          wire.Millis                            `json:"begin_time"`
	EndTime            wire.Millis                            `json:"end_time"`
	ReceiveTime        wire.Millis                            `json:"receive_time"`
	MemberRestrictType wire.Int64                             `json:"member_restrict_type"`
	UseScopeType       wire.Int64                             `json:"use_scope_type"`
	SuitStoreType      wire.Int64                             `json:"suit_store_type"`
	SuitItemType       wire.Int64                             `json:"suit_item_type"`
	Stores             wire.LenientJSONString[[]namedRefData] `json:"stores"`
	Items              wire.LenientJSONString[[]namedRefData] `json:"items"`
	Categories         wire.LenientJSONString[[]namedRefData] `json:"categories"`
	UseOrderNo         wire.String                            `json:"use_order_no"`
	Status             wire.Int64                             `json:"status"`
}

func (d *userCouponData) coupon() UserCoupon {
	return UserCoupon{
		ID: int64(d.ID), CouponCode: int64(d.CouponCode), TemplateID: int64(d.CouponInfoID),
		ThirdCouponCode: string(d.ThirdCouponCode), Name: string(d.Name),
		Category: CouponCategory(d.CouponCategory), Rules: string(d.Rules),
		DiscountFee: int64(d.DiscountFee), MinimumFee: int64(d.MinimumFee),
		Validity: CouponValidity(d.CouponType), FixedTerm: int(d.FixedTerm),
		BeginTime: time.Time(d.BeginTime), EndTime: time.Time(d.EndTime), ReceiveTime: time.Time(d.ReceiveTime),
		MemberRestrict: MemberRestrictType(d.MemberRestrictType), UseScope: UseScopeType(d.UseScopeType),
		SuitStore: SuitStoreType(d.SuitStoreType), SuitItem: SuitItemType(d.SuitItemType),
		Stores: couponRefsFrom(d.Stores.V), Items: couponRefsFrom(d.Items.V), Categories: couponRefsFrom(d.Categories.V),
		StoresRaw: d.Stores.Raw, ItemsRaw: d.Items.Raw, CategoriesRaw: d.Categories.Raw,
		UseOrderNo: string(d.UseOrderNo), Status: CouponStatus(d.Status),
	}
}

// couponRefsFrom converts decoded stores, items or categories.
func couponRefsFrom(d []namedRefData) []NamedRef {
	if len(d) == 0 {
		return nil
	}
	out := make([]NamedRef, len(d))
	for i, r := range d {
		out[i] = NamedRef{ID: string(r.ID), Name: string(r.Name)}
	}
	return out
}

// CouponGrant is one coupon to give (an entry of coupon_set).
type CouponGrant struct {
	// OpenID is the member's open_id or mainland mobile number, as
	// ParamsType says.
	OpenID string `json:"open_id"`
	// ParamsType says which of the two OpenID holds. Required.
	ParamsType ParamsType `json:"params_type"`
	// CouponNumber is the integrator's own code for this coupon, unique per
	// coupon; 5.3 and 5.4 name the coupon by it (third_coupon_code). It must
	// not contain a comma, because 5.4 joins codes with commas.
	CouponNumber string `json:"coupon_number"`
}

// GivenCoupon is one coupon the platform created in 5.2.
type GivenCoupon struct {
	// Code is the platform's coupon code, a 19-digit integer, exact.
	Code int64
	// OpenID is the member it went to.
	OpenID string
}

// givenCouponData decodes both spellings of the member's id: the table says
// openId, the example open_id (docs/spec-notes.md#10).
type givenCouponData struct {
	Code        wire.Int64  `json:"code"`
	OpenID      wire.String `json:"open_id"`
	OpenIDCamel wire.String `json:"openId"`
}

// UnmarshalJSON implements json.Unmarshaler: the member's id decodes even
// when the code does not.
func (d *givenCouponData) UnmarshalJSON(b []byte) error {
	var v struct {
		Code        json.RawMessage `json:"code"`
		OpenID      wire.String     `json:"open_id"`
		OpenIDCamel wire.String     `json:"openId"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = givenCouponData{OpenID: v.OpenID, OpenIDCamel: v.OpenIDCamel}
	return d.Code.UnmarshalJSON(v.Code)
}

// givenCoupons is 5.2's data. It decodes entry by entry, so that when one
// does not decode (a coupon code sent as a float, which cannot hold 19
// digits), the others still do: the coupons were given, and Give returns
// what it could read with ErrAppliedUnreadable.
type givenCoupons []givenCouponData

// UnmarshalJSON implements json.Unmarshaler. An entry that does not decode
// keeps what of it did; the first failure is returned after all entries.
func (g *givenCoupons) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*g = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(givenCoupons, len(raw))
	var first error
	for i, r := range raw {
		if err := json.Unmarshal(r, &out[i]); err != nil && first == nil {
			first = fmt.Errorf("coupon %d: %w", i, err)
		}
	}
	*g = out
	return first
}
