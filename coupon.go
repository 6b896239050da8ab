package ump

import (
	"context"
	"encoding/json"
	"errors"
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
// bodies; every call is a POST with a JSON body (docs/spec-notes.md#1).
var (
	epCouponTemplateAdd = endpoint{method: "wk.coupon.template.add", retry: retryNever}
	epCouponGive        = endpoint{method: "wk.coupon.give", retry: retryNever}
	// The gateway deduplicates a status sync: setting the same status again
	// changes nothing, so it is safe to repeat.
	epCouponSyncStatus = endpoint{method: "wk.coupon.sync.status", retry: retrySafe}
	epCouponVerify     = endpoint{method: "wk.coupon.verification", retry: retryNever}
	epCouponUserList   = endpoint{method: "wk.coupon.user.list", retry: retrySafe}
)

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
	v.int32("fixed_term", int64(r.FixedTerm))
	v.int32("quantity", int64(r.Quantity))
	v.int32("claim_number", int64(r.ClaimNumber))
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
// A success whose id cannot be read returns 0 and an error matching
// ErrAppliedUnreadable: the template exists; do not create it again.
func (s *CouponService) CreateTemplate(ctx context.Context, req *CouponTemplateRequest) (templateID int64, err error) {
	c := clientOf(s)
	req, err = checkRequest(c, &epCouponTemplateAdd, req)
	if err != nil {
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

type giveBody struct {
	Number        int                            `json:"number"`
	CouponSet     wire.JSONString[[]CouponGrant] `json:"coupon_set"`
	CreateTime    wire.Millis                    `json:"create_time"`
	ReceiveStore  int64                          `json:"receive_store,omitempty"`
	ThirdCouponID string                         `json:"third_coupon_id"`
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
	v.int32("number", int64(r.Number))
	v.notNegative("receive_store", r.ReceiveStore)
}

// Give gives coupons of a template to members (5.2) and returns the coupons
// the platform created, with its codes. A CouponNumber already given fails
// with an error matching ErrAlreadyExists (150002). It is never sent again
// once the request may have reached the gateway: an ambiguous failure is an
// *OutcomeUnknownError; look for the coupon numbers with AllUserCoupons
// before giving again. If the gateway answers success with codes that
// cannot be read exactly (floats, say), the coupons were given: Give returns
// them, Code 0 where it could not be read, with an error matching
// ErrAppliedUnreadable.
func (s *CouponService) Give(ctx context.Context, req *GiveCouponsRequest) ([]GivenCoupon, error) {
	c := clientOf(s)
	req, err := checkRequest(c, &epCouponGive, req)
	if err != nil {
		return nil, err
	}
	body := giveBody{
		Number:        req.Number,
		CouponSet:     wire.JSONString[[]CouponGrant]{V: req.CouponSet},
		CreateTime:    wire.Millis(s.orNow(req.CreateTime)),
		ReceiveStore:  req.ReceiveStore,
		ThirdCouponID: req.ThirdCouponID,
	}
	data, _, err := call[givenCoupons](ctx, c, &epCouponGive, &body, "")
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

// CouponStatusRequest sets the status of one given coupon (5.3).
type CouponStatusRequest struct {
	// ThirdCouponCode is the coupon's CouponNumber from Give. The document
	// types it Long but calls it the coupon_number and shows hex strings, so
	// it is a string (docs/spec-notes.md#18). Required.
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
	req, err := checkRequest(c, &epCouponSyncStatus, req)
	if err != nil {
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
	req, err := checkRequest(c, &epCouponVerify, req)
	if err != nil {
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
	_, _, err = call[json.RawMessage](ctx, c, &epCouponVerify, &body, "")
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
	req, err := checkRequest(c, &epCouponUserList, req)
	if err != nil {
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
