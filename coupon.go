package ump

import (
	"context"
	"encoding/json"
	"iter"
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
// bodies; every call is a POST with a JSON body (NOTES.md #1).
var (
	epCouponTemplateAdd = endpoint{method: "wk.coupon.template.add", retry: retryNever}
	epCouponGive        = endpoint{method: "wk.coupon.give", retry: retryNever}
	// The gateway deduplicates a status sync: setting the same status again
	// changes nothing, so it is safe to repeat.
	epCouponSyncStatus = endpoint{method: "wk.coupon.sync.status", retry: retrySafe}
	epCouponVerify     = endpoint{method: "wk.coupon.verification", retry: retryNever}
	epCouponUserList   = endpoint{method: "wk.coupon.user.list", retry: retrySafe}
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

// check records missing fields, values out of their documented ranges and
// the fields the validity kind requires.
func (r *CouponTemplateRequest) check(v *checker) {
	v.required("third_coupon_id", r.ThirdCouponID)
	v.between("coupon_category", int64(r.Category), int64(CouponOrderReduction), int64(CouponItemDiscount))
	v.required("name", r.Name)
	if r.Category.IsDiscount() {
		v.between("discount_fee", r.DiscountFee, 1, 99)
	} else {
		v.positive("discount_fee", r.DiscountFee)
	}
	v.between("coupon_type", int64(r.Validity), int64(ValidDaysAfterReceipt), int64(ValidFixedPeriod))
	v.required("rules", r.Rules)
	switch r.Validity {
	case ValidFixedPeriod:
		if r.BeginTime.IsZero() {
			v.add("begin_time", "required when coupon_type is 1")
		}
		if r.EndTime.IsZero() {
			v.add("end_time", "required when coupon_type is 1")
		} else if !r.BeginTime.IsZero() && !r.EndTime.After(r.BeginTime) {
			v.add("end_time", "must be after begin_time")
		}
	case ValidDaysAfterReceipt:
		if r.FixedTerm <= 0 {
			v.add("fixed_term", "required when coupon_type is 0")
		}
	}
	v.notNegative("fixed_term", int64(r.FixedTerm))
	v.notNegative("minimum_fee", r.MinimumFee)
	v.notNegative("quantity", int64(r.Quantity))
	v.notNegative("claim_number", int64(r.ClaimNumber))
	v.between("coupon_centre_status", int64(r.CentreStatus), 0, int64(CouponCentreListed))
	if r.MemberRestrict != nil {
		v.between("member_restrict_type", int64(*r.MemberRestrict), int64(MemberRestrictNewUsers), int64(MemberRestrictAll))
	}
	v.between("receive_method", int64(r.ReceiveMethod), int64(ReceiveFree), int64(ReceiveByPoints))
	v.between("use_scope_type", int64(r.UseScope), 0, int64(UseScopeIssuingBusiness))
	v.between("suit_store_type", int64(r.SuitStore), int64(SuitAllStores), int64(SuitSomeStores))
	v.between("suit_item_type", int64(r.SuitItem), int64(SuitAllItems), int64(SuitSomeCategories))
	for _, list := range [...]struct {
		field string
		refs  []NamedRef
	}{{"stores", r.Stores}, {"items", r.Items}, {"categories", r.Categories}} {
		for i, r := range list.refs {
			v.required(indexed(list.field, i)+".id", r.ID)
		}
	}
}

// CreateTemplate creates a coupon template (5.1) and returns the platform's
// id for it. A ThirdCouponID already used fails with an error matching
// ErrAlreadyExists (150002). It is never sent again once the request may
// have reached the gateway: an ambiguous failure is an *OutcomeUnknownError.
func (s *CouponService) CreateTemplate(ctx context.Context, req *CouponTemplateRequest) (templateID int64, err error) {
	c := clientOf(s)
	if req == nil {
		req = &CouponTemplateRequest{}
	}
	if err := c.validate(&epCouponTemplateAdd, req); err != nil {
		return 0, err
	}
	body := couponTemplateBody{
		ThirdCouponID: req.ThirdCouponID, CouponCategory: req.Category, Name: req.Name,
		DiscountFee: req.DiscountFee, CouponType: req.Validity, Rules: req.Rules,
		BeginTime: couponMillis(req.BeginTime), EndTime: couponMillis(req.EndTime),
		FixedTerm: req.FixedTerm, MinimumFee: req.MinimumFee, Quantity: req.Quantity,
		ClaimNumber: req.ClaimNumber, CentreStatus: req.CentreStatus,
		MemberRestrict: req.MemberRestrict, ReceiveMethod: req.ReceiveMethod,
		UseScope: req.UseScope, SuitStore: req.SuitStore, SuitItem: req.SuitItem,
		Stores: couponRefList(req.Stores), Items: couponRefList(req.Items), Categories: couponRefList(req.Categories),
	}
	id, _, err := call[wire.Int64](ctx, c, &epCouponTemplateAdd, &body, "")
	return int64(id), err
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
// openId, the example open_id (NOTES.md #10).
type givenCouponData struct {
	Code        wire.Int64  `json:"code"`
	OpenID      wire.String `json:"open_id"`
	OpenIDCamel wire.String `json:"openId"`
}

// check records missing fields, bad grants and repeated coupon numbers.
func (r *GiveCouponsRequest) check(v *checker) {
	v.required("third_coupon_id", r.ThirdCouponID)
	v.nonEmpty("coupon_set", len(r.CouponSet))
	seen := make(map[string]int, len(r.CouponSet))
	for i, g := range r.CouponSet {
		at := indexed("coupon_set", i) + "."
		v.required(at+"open_id", g.OpenID)
		switch g.ParamsType {
		case ParamsOpenID:
		case ParamsPhone:
			v.phone(at+"open_id", g.OpenID)
		case "":
			v.add(at+"params_type", "required")
		default:
			v.add(at+"params_type", `must be "1" (open_id) or "2" (phone)`)
		}
		v.required(at+"coupon_number", g.CouponNumber)
		v.noComma(at+"coupon_number", g.CouponNumber)
		if g.CouponNumber != "" {
			if j, dup := seen[g.CouponNumber]; dup {
				v.add(at+"coupon_number", "repeats "+indexed("coupon_set", j))
			} else {
				seen[g.CouponNumber] = i
			}
		}
	}
	v.positive("number", int64(r.Number))
	v.notNegative("receive_store", r.ReceiveStore)
}

// Give gives coupons of a template to members (5.2) and returns the coupons
// the platform created, with its codes. A CouponNumber already given fails
// with an error matching ErrAlreadyExists (150002). It is never sent again
// once the request may have reached the gateway: an ambiguous failure is an
// *OutcomeUnknownError; look for the coupon numbers with AllUserCoupons
// before giving again.
func (s *CouponService) Give(ctx context.Context, req *GiveCouponsRequest) ([]GivenCoupon, error) {
	c := clientOf(s)
	if req == nil {
		req = &GiveCouponsRequest{}
	}
	if err := c.validate(&epCouponGive, req); err != nil {
		return nil, err
	}
	body := giveBody{
		Number:        req.Number,
		CouponSet:     wire.JSONString[[]CouponGrant]{V: req.CouponSet},
		CreateTime:    wire.Millis(s.orNow(req.CreateTime)),
		ReceiveStore:  req.ReceiveStore,
		ThirdCouponID: req.ThirdCouponID,
	}
	data, _, err := call[[]givenCouponData](ctx, c, &epCouponGive, &body, "")
	if err != nil {
		return nil, err
	}
	out := make([]GivenCoupon, len(data))
	for i, d := range data {
		out[i] = GivenCoupon{Code: int64(d.Code), OpenID: string(d.OpenID)}
		if out[i].OpenID == "" {
			out[i].OpenID = string(d.OpenIDCamel)
		}
	}
	return out, nil
}

// CouponStatusRequest sets the status of one given coupon (5.3).
type CouponStatusRequest struct {
	// ThirdCouponCode is the coupon's CouponNumber from Give. The document
	// types it Long but calls it the coupon_number and shows hex strings, so
	// it is a string (NOTES.md #18). Required.
	ThirdCouponCode string
	// OpenID is the member's open_id or mainland mobile number. Required.
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

func (r *CouponStatusRequest) check(v *checker) {
	v.required("third_coupon_code", r.ThirdCouponCode)
	v.required("open_id", r.OpenID)
	v.between("status", int64(r.Status), int64(CouponInvalid), int64(CouponNotStarted))
}

// SyncStatus sets a coupon's status (5.3, wk.coupon.sync.status) and returns
// the third-party coupon code the gateway answers with. Because setting the
// same status twice changes nothing, a failed attempt is repeated under the
// client's RetryPolicy.
func (s *CouponService) SyncStatus(ctx context.Context, req *CouponStatusRequest) (string, error) {
	c := clientOf(s)
	if req == nil {
		req = &CouponStatusRequest{}
	}
	if err := c.validate(&epCouponSyncStatus, req); err != nil {
		return "", err
	}
	body := couponStatusBody{ThirdCouponCode: req.ThirdCouponCode, OpenID: req.OpenID, Status: req.Status}
	code, _, err := call[wire.String](ctx, c, &epCouponSyncStatus, &body, "")
	return string(code), err
}

// VerifyCouponsRequest redeems coupons against an order (5.4).
type VerifyCouponsRequest struct {
	// OpenID is the member's open_id or mainland mobile number. Required.
	OpenID string
	// OrderNo is the order the coupons are used for. Required.
	OrderNo string
	// ThirdCouponCodes are the coupons' CouponNumbers from Give, at least
	// one, none containing a comma: they are sent joined with commas
	// (third_coupon_codes, NOTES.md #18).
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

func (r *VerifyCouponsRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.required("order_no", r.OrderNo)
	v.nonEmpty("third_coupon_codes", len(r.ThirdCouponCodes))
	for i, code := range r.ThirdCouponCodes {
		v.required(indexed("third_coupon_codes", i), code)
		v.noComma(indexed("third_coupon_codes", i), code)
	}
	v.notNegative("store_id", r.StoreID)
}

// Verify redeems coupons against an order (5.4, wk.coupon.verification).
// It is not repeated after the request may have reached the gateway: an
// ambiguous failure is an *OutcomeUnknownError.
func (s *CouponService) Verify(ctx context.Context, req *VerifyCouponsRequest) error {
	c := clientOf(s)
	if req == nil {
		req = &VerifyCouponsRequest{}
	}
	if err := c.validate(&epCouponVerify, req); err != nil {
		return err
	}
	body := verifyBody{
		OpenID: req.OpenID, OrderNo: req.OrderNo,
		ThirdCouponCodes: strings.Join(req.ThirdCouponCodes, ","),
		VerificationTime: wire.Millis(s.orNow(req.VerificationTime)),
		StoreID:          req.StoreID,
	}
	// The data is null, or "void" by the table: whatever it is, success is
	// success.
	_, _, err := call[json.RawMessage](ctx, c, &epCouponVerify, &body, "")
	return err
}

// DefaultUserCouponPageSize is the document's default page size for
// ListUserCoupons; the SDK sends it when PageSize is 0.
const DefaultUserCouponPageSize = 15

// UserCouponsRequest selects a member's coupons (5.5).
type UserCouponsRequest struct {
	// OpenID is the member's open_id or mainland mobile number. Required.
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
	ID                 wire.Int64                      `json:"id"`
	CouponCode         wire.Int64                      `json:"coupon_code"`
	CouponInfoID       wire.Int64                      `json:"coupon_info_id"`
	ThirdCouponCode    wire.String                     `json:"third_coupon_code"`
	Name               wire.String                     `json:"name"`
	CouponCategory     wire.Int64                      `json:"coupon_category"`
	Rules              wire.String                     `json:"rules"`
	DiscountFee        wire.Int64                      `json:"discount_fee"`
	MinimumFee         wire.Int64                      `json:"minimum_fee"`
	CouponType         wire.Int64                      `json:"coupon_type"`
	FixedTerm          wire.Int64                      `json:"fixed_term"`
	BeginTime          wire.Millis                     `json:"begin_time"`
	EndTime            wire.Millis                     `json:"end_time"`
	ReceiveTime        wire.Millis                     `json:"receive_time"`
	MemberRestrictType wire.Int64                      `json:"member_restrict_type"`
	UseScopeType       wire.Int64                      `json:"use_scope_type"`
	SuitStoreType      wire.Int64                      `json:"suit_store_type"`
	SuitItemType       wire.Int64                      `json:"suit_item_type"`
	Stores             wire.JSONString[[]namedRefData] `json:"stores"`
	Items              wire.JSONString[[]namedRefData] `json:"items"`
	Categories         wire.JSONString[[]namedRefData] `json:"categories"`
	UseOrderNo         wire.String                     `json:"use_order_no"`
	Status             wire.Int64                      `json:"status"`
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
		UseOrderNo: string(d.UseOrderNo), Status: CouponStatus(d.Status),
	}
}

func (r *UserCouponsRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.between("status", int64(r.Status), 0, int64(CouponInUse)) // 0 lists all
	v.page(r.PageRequest, "page_no", "page_size")
}

// ListUserCoupons returns one page of a member's coupons (5.5,
// wk.coupon.user.list). It is a read, repeated under the client's
// RetryPolicy.
func (s *CouponService) ListUserCoupons(ctx context.Context, req *UserCouponsRequest) (*UserCouponPage, error) {
	c := clientOf(s)
	if req == nil {
		req = &UserCouponsRequest{}
	}
	if err := c.validate(&epCouponUserList, req); err != nil {
		return nil, err
	}
	pr := req.PageRequest.orDefault(DefaultUserCouponPageSize)
	body := userCouponsBody{OpenID: req.OpenID, PageNo: pr.PageNo, PageSize: pr.PageSize, Status: req.Status}
	return listPage(ctx, c, &epCouponUserList, &body, pr, (*userCouponData).coupon)
}

// AllUserCoupons iterates over a member's coupons from req's page on (page 1 if
// unset), fetching page after page with ListUserCoupons until the last. req is
// copied when AllUserCoupons is called and never modified. An error, a bad
// request included, is yielded once and ends the iteration.
func (s *CouponService) AllUserCoupons(ctx context.Context, req *UserCouponsRequest) iter.Seq2[UserCoupon, error] {
	clientOf(s) // fails here, not when the iteration starts
	var base UserCouponsRequest
	if req != nil {
		base = *req
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
