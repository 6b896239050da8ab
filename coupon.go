package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// CouponService holds the gateway's coupon calls (document section 5): create
// a template, give coupons of it to members, sync a coupon's status, verify
// (redeem) coupons against an order and list a member's coupons.
//
// Coupons are addressed two ways. The integrator names the template
// (third_coupon_id, 5.1) and every coupon it gives (coupon_number, 5.2; called
// third_coupon_code in 5.3-5.5); the platform answers with its own numbers,
// the template id of 5.1 and the coupon codes of 5.2, which are 19-digit
// integers kept exact as int64.
type CouponService service

// The coupon calls. The document says GET for 5.4 and 5.5 but shows JSON
// bodies; every call is a POST with a JSON body (docs/spec-notes.md#1).
var (
	epCouponTemplateAdd = endpoint{method: "wk.coupon.template.add"}
	epCouponGive        = endpoint{method: "wk.coupon.give"}
	// The gateway deduplicates a status sync: setting the same status again
	// changes nothing, so it is safe to repeat.
	epCouponSyncStatus = endpoint{method: "wk.coupon.sync.status", idempotent: true}
	epCouponVerify     = endpoint{method: "wk.coupon.verification"}
	epCouponUserList   = endpoint{method: "wk.coupon.user.list", idempotent: true}
)

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

// ParamsType says what a grant's OpenIDOrPhone holds (params_type of
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

// CouponTemplateRequest creates a coupon template (5.1). Zero values of the
// optional fields leave them out, so the gateway applies its defaults.
type CouponTemplateRequest struct {
	// ThirdCouponID is the integrator's own id for the template
	// (third_coupon_id); 5.2 names the template by it. Required.
	ThirdCouponID string
	// Category is the coupon's kind (coupon_category). Required; its zero
	// value is CouponOrderReduction.
	Category CouponCategory
	// Name is the coupon's display name. Required.
	Name string
	// DiscountFee is the face value in fen (分), > 0. For the discount
	// categories (IsDiscount) it is the discount instead, 1..99; the
	// document gives only the range. Required.
	DiscountFee int64
	// Validity says how the validity period is set (coupon_type). Its zero
	// value is ValidDaysAfterReceipt, which needs FixedTerm.
	Validity CouponValidity
	// Rules are the usage rules shown to the member. Required.
	Rules string
	// BeginTime and EndTime bound the validity of a ValidFixedPeriod coupon
	// (required for it, EndTime after BeginTime); sent as epoch milliseconds.
	BeginTime time.Time
	EndTime   time.Time
	// FixedTerm is how many days a ValidDaysAfterReceipt coupon stays valid
	// after it is received (required for it, > 0).
	FixedTerm int
	// MinimumFee is the spending threshold in fen (分); 0 means none.
	MinimumFee int64
	// Quantity is the stock of coupons to give; 0 means unlimited.
	Quantity int
	// ClaimNumber is how often one member may receive the coupon; 0 means
	// unlimited.
	ClaimNumber int
	// CentreStatus is the channel (coupon_centre_status); zero leaves it to
	// the gateway's default, CouponCentreListed.
	CentreStatus CouponCentreStatus
	// MemberRestrict is who may receive it (member_restrict_type). nil
	// leaves it to the gateway's default, MemberRestrictAll; it is a
	// pointer because the zero value, new users only, is a real choice.
	MemberRestrict *MemberRestrictType
	// ReceiveMethod is how members receive it (default ReceiveFree).
	ReceiveMethod ReceiveMethod
	// UseScope limits where it can be redeemed (use_scope_type).
	UseScope UseScopeType
	// SuitStore and Stores say which stores accept it.
	SuitStore SuitStoreType
	Stores    []NamedRef
	// SuitItem, Items and Categories say which goods it applies to.
	SuitItem   SuitItemType
	Items      []NamedRef
	Categories []NamedRef
}

// couponTemplateBody is 5.1's body on the wire.
type couponTemplateBody struct {
	ThirdCouponID  string                      `json:"third_coupon_id"`
	CouponCategory CouponCategory              `json:"coupon_category"`
	Name           string                      `json:"name"`
	DiscountFee    int64                       `json:"discount_fee"`
	CouponType     CouponValidity              `json:"coupon_type"`
	Rules          string                      `json:"rules"`
	BeginTime      wire.Millis                 `json:"begin_time,omitzero"`
	EndTime        wire.Millis                 `json:"end_time,omitzero"`
	FixedTerm      int                         `json:"fixed_term,omitempty"`
	MinimumFee     int64                       `json:"minimum_fee,omitempty"`
	Quantity       int                         `json:"quantity,omitempty"`
	ClaimNumber    int                         `json:"claim_number,omitempty"`
	CentreStatus   CouponCentreStatus          `json:"coupon_centre_status,omitempty"`
	MemberRestrict *MemberRestrictType         `json:"member_restrict_type,omitempty"`
	ReceiveMethod  ReceiveMethod               `json:"receive_method,omitempty"`
	UseScope       UseScopeType                `json:"use_scope_type,omitempty"`
	SuitStore      SuitStoreType               `json:"suit_store_type,omitempty"`
	SuitItem       SuitItemType                `json:"suit_item_type,omitempty"`
	Stores         wire.JSONString[[]NamedRef] `json:"stores,omitzero"`
	Items          wire.JSONString[[]NamedRef] `json:"items,omitzero"`
	Categories     wire.JSONString[[]NamedRef] `json:"categories,omitzero"`
}

// CreateTemplate creates a coupon template (5.1, wk.coupon.template.add) and
// returns the platform's id for it. It is not repeated after the request may
// have reached the gateway: an ambiguous failure is an *OutcomeUnknownError.
// A success whose id cannot be read returns 0 and an error matching
// ErrAppliedUnreadable: the template exists; do not create it again.
func (s *CouponService) CreateTemplate(ctx context.Context, q *CouponTemplateRequest) (templateID int64, err error) {
	if q == nil {
		q = &CouponTemplateRequest{}
	}
	v := checker{method: epCouponTemplateAdd.method}
	v.required("third_coupon_id", q.ThirdCouponID)
	couponRange(&v, "coupon_category", int(q.Category), 0, 4)
	v.required("name", q.Name)
	switch {
	case q.Category.IsDiscount() && (q.DiscountFee < 1 || q.DiscountFee > 99):
		v.add("discount_fee", "must be 1..99 for a discount coupon")
	case q.DiscountFee <= 0:
		v.add("discount_fee", "must be positive (fen)")
	}
	couponRange(&v, "coupon_type", int(q.Validity), 0, 1)
	v.required("rules", q.Rules)
	switch q.Validity {
	case ValidFixedPeriod:
		if q.BeginTime.IsZero() {
			v.add("begin_time", "required when coupon_type is 1")
		}
		if q.EndTime.IsZero() {
			v.add("end_time", "required when coupon_type is 1")
		} else if !q.BeginTime.IsZero() && !q.EndTime.After(q.BeginTime) {
			v.add("end_time", "must be after begin_time")
		}
	case ValidDaysAfterReceipt:
		if q.FixedTerm <= 0 {
			v.add("fixed_term", "must be positive when coupon_type is 0")
		}
	}
	couponNotNegative(&v, "fixed_term", int64(q.FixedTerm))
	couponNotNegative(&v, "minimum_fee", q.MinimumFee)
	couponNotNegative(&v, "quantity", int64(q.Quantity))
	couponNotNegative(&v, "claim_number", int64(q.ClaimNumber))
	v.int32("fixed_term", int64(q.FixedTerm))
	v.int32("quantity", int64(q.Quantity))
	v.int32("claim_number", int64(q.ClaimNumber))
	couponRange(&v, "coupon_centre_status", int(q.CentreStatus), 0, 1)
	if q.MemberRestrict != nil {
		couponRange(&v, "member_restrict_type", int(*q.MemberRestrict), 0, 2)
	}
	couponRange(&v, "receive_method", int(q.ReceiveMethod), 0, 1)
	couponRange(&v, "use_scope_type", int(q.UseScope), 0, 1)
	couponRange(&v, "suit_store_type", int(q.SuitStore), 0, 1)
	couponRange(&v, "suit_item_type", int(q.SuitItem), 0, 2)
	couponCheckRefs(&v, "stores", q.Stores)
	couponCheckRefs(&v, "items", q.Items)
	couponCheckRefs(&v, "categories", q.Categories)
	if err := v.err(); err != nil {
		return 0, err
	}
	body := couponTemplateBody{
		ThirdCouponID: q.ThirdCouponID, CouponCategory: q.Category, Name: q.Name,
		DiscountFee: q.DiscountFee, CouponType: q.Validity, Rules: q.Rules,
		BeginTime: couponMillis(q.BeginTime), EndTime: couponMillis(q.EndTime),
		FixedTerm: q.FixedTerm, MinimumFee: q.MinimumFee, Quantity: q.Quantity,
		ClaimNumber: q.ClaimNumber, CentreStatus: q.CentreStatus,
		MemberRestrict: q.MemberRestrict, ReceiveMethod: q.ReceiveMethod,
		UseScope: q.UseScope, SuitStore: q.SuitStore, SuitItem: q.SuitItem,
		Stores: couponRefList(q.Stores), Items: couponRefList(q.Items), Categories: couponRefList(q.Categories),
	}
	id, _, err := call[wire.Int64](ctx, s.client, &epCouponTemplateAdd, &body)
	return int64(id), err
}

// CouponGrant is one coupon to give (an entry of coupon_set).
type CouponGrant struct {
	// OpenIDOrPhone is the member's open_id, or a mainland mobile number
	// when ParamsType is ParamsPhone (sent as open_id).
	OpenIDOrPhone string `json:"open_id"`
	// ParamsType says which of the two OpenIDOrPhone holds. Required.
	ParamsType ParamsType `json:"params_type"`
	// CouponNumber is the integrator's own code for this coupon, unique per
	// coupon; 5.3 and 5.4 name the coupon by it (third_coupon_code). It must
	// not contain a comma, because 5.4 joins codes with commas.
	CouponNumber string `json:"coupon_number"`
}

// GiveCouponsRequest gives coupons of a template to members (5.2).
type GiveCouponsRequest struct {
	// ThirdCouponID is the template's id as given to CreateTemplate
	// (third_coupon_id). Required.
	ThirdCouponID string
	// CouponSet lists the coupons to give, one entry per coupon (sent as a
	// JSON array inside a string). At least one.
	CouponSet []CouponGrant
	// Number is how many coupons each member gets (>= 1).
	Number int
	// CreateTime is when the coupons are given, sent as epoch
	// milliseconds; the zero time means now, by the client's clock.
	CreateTime time.Time
	// ReceiveStore is the store id the coupons are received at
	// (receive_store, reserved by the document); 0 leaves it out.
	ReceiveStore int64
}

// GivenCoupon is one coupon the platform created in 5.2.
type GivenCoupon struct {
	// Code is the platform's coupon code, a 19-digit integer, exact.
	Code int64
	// OpenID is the member it went to.
	OpenID string
}

type giveBody struct {
	Number        int                            `json:"number"`
	CouponSet     wire.JSONString[[]CouponGrant] `json:"coupon_set"`
	CreateTime    wire.Millis                    `json:"create_time"`
	ReceiveStore  int64                          `json:"receive_store,omitempty"`
	ThirdCouponID string                         `json:"third_coupon_id"`
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

// Give gives coupons of a template to members (5.2, wk.coupon.give) and
// returns the coupons the platform created, with its codes. It is not
// repeated after the request may have reached the gateway: an ambiguous
// failure is an *OutcomeUnknownError, and the caller reconciles (for
// example with ListUserCoupons) before giving again. If the gateway answers
// success with codes that cannot be read exactly (floats, say), the coupons
// were given: Give returns them, Code 0 where it could not be read, with an
// error matching ErrAppliedUnreadable.
func (s *CouponService) Give(ctx context.Context, q *GiveCouponsRequest) ([]GivenCoupon, error) {
	if q == nil {
		q = &GiveCouponsRequest{}
	}
	v := checker{method: epCouponGive.method}
	v.required("third_coupon_id", q.ThirdCouponID)
	if len(q.CouponSet) == 0 {
		v.add("coupon_set", "at least one coupon required")
	}
	seen := make(map[string]int, len(q.CouponSet))
	for i, g := range q.CouponSet {
		at := "coupon_set[" + strconv.Itoa(i) + "]."
		v.required(at+"open_id", g.OpenIDOrPhone)
		switch g.ParamsType {
		case ParamsOpenID:
		case ParamsPhone:
			v.phone(at+"open_id", g.OpenIDOrPhone)
		case "":
			v.add(at+"params_type", "required")
		default:
			v.add(at+"params_type", `must be "1" (open_id) or "2" (phone)`)
		}
		v.required(at+"coupon_number", g.CouponNumber)
		if strings.Contains(g.CouponNumber, ",") {
			v.add(at+"coupon_number", "must not contain a comma")
		}
		if g.CouponNumber != "" {
			if j, dup := seen[g.CouponNumber]; dup {
				v.add(at+"coupon_number", "repeats coupon_set["+strconv.Itoa(j)+"]")
			} else {
				seen[g.CouponNumber] = i
			}
		}
	}
	if q.Number < 1 {
		v.add("number", "must be at least 1")
	}
	v.int32("number", int64(q.Number))
	couponNotNegative(&v, "receive_store", q.ReceiveStore)
	if err := v.err(); err != nil {
		return nil, err
	}
	body := giveBody{
		Number:        q.Number,
		CouponSet:     wire.JSONString[[]CouponGrant]{V: q.CouponSet},
		CreateTime:    wire.Millis(s.orNow(q.CreateTime)),
		ReceiveStore:  q.ReceiveStore,
		ThirdCouponID: q.ThirdCouponID,
	}
	data, _, err := call[givenCoupons](ctx, s.client, &epCouponGive, &body)
	if err != nil && !errors.Is(err, ErrAppliedUnreadable) {
		return nil, err
	}
	out := make([]GivenCoupon, len(data))
	for i, d := range data {
		out[i] = GivenCoupon{Code: int64(d.Code), OpenID: string(d.OpenID)}
		if out[i].OpenID == "" {
			out[i].OpenID = string(d.OpenIDCamel)
		}
	}
	return out, err
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

// CouponStatusRequest sets the status of one given coupon (5.3).
type CouponStatusRequest struct {
	// ThirdCouponCode is the coupon's CouponNumber from Give. The document
	// types it Long but calls it the coupon_number and shows hex strings, so
	// it is a string (docs/spec-notes.md#18). Required.
	ThirdCouponCode string
	// OpenID is the member's open_id, or their phone number. Required.
	OpenID string
	// Status is the new status, 0..4; CouponInvalid (0) deletes the coupon
	// and is sent like any other value.
	Status CouponStatus
}

type couponStatusBody struct {
	ThirdCouponCode string       `json:"third_coupon_code"`
	OpenID          string       `json:"open_id"`
	Status          CouponStatus `json:"status"`
}

// SyncStatus sets a coupon's status (5.3, wk.coupon.sync.status) and returns
// the third-party coupon code the gateway answers with. Because setting the
// same status twice changes nothing, a failed attempt is repeated under the
// client's RetryPolicy.
func (s *CouponService) SyncStatus(ctx context.Context, q *CouponStatusRequest) (string, error) {
	if q == nil {
		q = &CouponStatusRequest{}
	}
	v := checker{method: epCouponSyncStatus.method}
	v.required("third_coupon_code", q.ThirdCouponCode)
	v.required("open_id", q.OpenID)
	couponRange(&v, "status", int(q.Status), 0, 4)
	if err := v.err(); err != nil {
		return "", err
	}
	body := couponStatusBody{ThirdCouponCode: q.ThirdCouponCode, OpenID: q.OpenID, Status: q.Status}
	code, _, err := call[wire.String](ctx, s.client, &epCouponSyncStatus, &body)
	return string(code), err
}

// VerifyCouponsRequest redeems coupons against an order (5.4).
type VerifyCouponsRequest struct {
	// OpenID is the member's open_id, or their phone number. Required.
	OpenID string
	// OrderNo is the order the coupons are used for. Required.
	OrderNo string
	// ThirdCouponCodes are the coupons' CouponNumbers from Give, at least
	// one, none containing a comma: they are sent joined with commas
	// (third_coupon_codes, docs/spec-notes.md#18).
	ThirdCouponCodes []string
	// VerificationTime is when the coupons were used, sent as epoch
	// milliseconds; the zero time means now, by the client's clock.
	VerificationTime time.Time
	// StoreID is the store the order was placed at; 0 leaves it out.
	StoreID int64
}

type verifyBody struct {
	OpenID           string      `json:"open_id"`
	OrderNo          string      `json:"order_no"`
	ThirdCouponCodes string      `json:"third_coupon_codes"`
	VerificationTime wire.Millis `json:"verification_time"`
	StoreID          int64       `json:"store_id,omitempty"`
}

// Verify redeems coupons against an order (5.4, wk.coupon.verification).
// It is not repeated after the request may have reached the gateway: an
// ambiguous failure is an *OutcomeUnknownError.
func (s *CouponService) Verify(ctx context.Context, q *VerifyCouponsRequest) error {
	if q == nil {
		q = &VerifyCouponsRequest{}
	}
	v := checker{method: epCouponVerify.method}
	v.required("open_id", q.OpenID)
	v.required("order_no", q.OrderNo)
	if len(q.ThirdCouponCodes) == 0 {
		v.add("third_coupon_codes", "at least one code required")
	}
	for i, code := range q.ThirdCouponCodes {
		at := "third_coupon_codes[" + strconv.Itoa(i) + "]"
		v.required(at, code)
		if strings.Contains(code, ",") {
			v.add(at, "must not contain a comma")
		}
	}
	couponNotNegative(&v, "store_id", q.StoreID)
	if err := v.err(); err != nil {
		return err
	}
	body := verifyBody{
		OpenID: q.OpenID, OrderNo: q.OrderNo,
		ThirdCouponCodes: strings.Join(q.ThirdCouponCodes, ","),
		VerificationTime: wire.Millis(s.orNow(q.VerificationTime)),
		StoreID:          q.StoreID,
	}
	// The data is null, or "void" by the table: whatever it is, success is
	// success.
	_, _, err := call[json.RawMessage](ctx, s.client, &epCouponVerify, &body)
	return err
}

// DefaultUserCouponPageSize is the document's default page size for
// ListUserCoupons; the SDK sends it when PageSize is 0.
const DefaultUserCouponPageSize = 15

// UserCouponsRequest selects a member's coupons (5.5).
type UserCouponsRequest struct {
	// OpenID is the member's open_id, or their phone number. Required.
	OpenID string
	// Status filters by status; 0 lists all. The document's filter knows
	// 1 valid, 2 used and 3 expired: 3 (CouponInUse) selects expired
	// coupons here (see CouponStatus).
	Status CouponStatus
	// PageNo (default 1) and PageSize (default DefaultUserCouponPageSize,
	// at most MaxPageSize) select the page.
	PageRequest
}

type userCouponsBody struct {
	OpenID   string       `json:"open_id"`
	PageNo   int          `json:"page_no"`
	PageSize int          `json:"page_size"`
	Status   CouponStatus `json:"status,omitempty"`
}

// UserCouponPage is one page of a member's coupons.
type UserCouponPage = Page[UserCoupon]

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

// ListUserCoupons returns one page of a member's coupons (5.5,
// wk.coupon.user.list). It is a read, repeated under the client's
// RetryPolicy.
func (s *CouponService) ListUserCoupons(ctx context.Context, q *UserCouponsRequest) (*UserCouponPage, error) {
	if q == nil {
		q = &UserCouponsRequest{}
	}
	v := checker{method: epCouponUserList.method}
	v.required("open_id", q.OpenID)
	if q.Status != 0 {
		couponRange(&v, "status", int(q.Status), 1, 3)
	}
	pr := v.pageParams(q.PageRequest, "page_no", "page_size", DefaultUserCouponPageSize)
	if err := v.err(); err != nil {
		return nil, err
	}
	body := userCouponsBody{OpenID: q.OpenID, PageNo: pr.PageNo, PageSize: pr.PageSize, Status: q.Status}
	return listPage(ctx, s.client, &epCouponUserList, &body, pr, (*userCouponData).coupon)
}

// AllUserCoupons iterates over a member's coupons from q's page on (page 1 if
// unset), fetching page after page with ListUserCoupons until the last. q is
// copied when AllUserCoupons is called and never modified. An error, a bad
// request included, is yielded once and ends the iteration.
func (s *CouponService) AllUserCoupons(ctx context.Context, q *UserCouponsRequest) iter.Seq2[UserCoupon, error] {
	var base UserCouponsRequest
	if q != nil {
		base = *q
	}
	return allPages(ctx, base.PageRequest, func(ctx context.Context, pr PageRequest) (*UserCouponPage, error) {
		r := base
		r.PageRequest = pr
		return s.ListUserCoupons(ctx, &r)
	})
}

// orNow returns t, or the client clock's now for the zero time.
func (s *CouponService) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return s.client.now()
	}
	return t
}

// couponMillis is t on the wire, zero (left out) for the zero time.
func couponMillis(t time.Time) wire.Millis {
	if t.IsZero() {
		return wire.Millis{}
	}
	return wire.Millis(t)
}

// couponRefList is refs on the wire, zero (left out) when there are none.
func couponRefList(refs []NamedRef) wire.JSONString[[]NamedRef] {
	if len(refs) == 0 {
		return wire.JSONString[[]NamedRef]{}
	}
	return wire.JSONString[[]NamedRef]{V: refs}
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

// couponRange records field if n is outside lo..hi.
func couponRange(v *checker, field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(field, "must be "+strconv.Itoa(lo)+".."+strconv.Itoa(hi))
	}
}

// couponNotNegative records field if n is negative.
func couponNotNegative(v *checker, field string, n int64) {
	if n < 0 {
		v.add(field, "must not be negative")
	}
}

// couponCheckRefs records entries of stores, items or categories without an id.
func couponCheckRefs(v *checker, field string, refs []NamedRef) {
	for i, r := range refs {
		v.required(field+"["+strconv.Itoa(i)+"].id", r.ID)
	}
}
