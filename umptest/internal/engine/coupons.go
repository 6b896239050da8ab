package engine

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// Coupon statuses, as 5.3 sets them and 5.5 lists them.
const (
	CouponInvalid    = 0 // invalid or deleted
	CouponValid      = 1
	CouponUsed       = 2
	CouponInUse      = 3
	CouponNotStarted = 4
)

// Coupon is a coupon given to a member (5.2). umptest.Coupon has the same
// fields and converts to and from it; a field added here is added there.
type Coupon struct {
	// ID is the user-coupon id (用户卷主键ID) of 5.5; Code the platform's
	// 19-digit coupon code.
	ID   int64
	Code int64
	// ThirdCouponCode is the coupon_number the integrator gave it in 5.2.
	ThirdCouponCode string
	// TemplateID is the template's platform id (coupon_info_id), and
	// ThirdCouponID the integrator's template id.
	TemplateID    int64
	ThirdCouponID string
	OpenID        string
	// Status is one of the Coupon status constants.
	Status int64
	// ReceiveTime is the create_time 5.2 gave; BeginTime and EndTime bound
	// when the coupon can be used (the template's period, or fixed_term
	// days from ReceiveTime).
	ReceiveTime time.Time
	BeginTime   time.Time
	EndTime     time.Time
	// UseOrderNo is the order_no of the verification (5.4) that used the
	// coupon.
	UseOrderNo string
}

// coupon is a Coupon with the template it was given from.
type coupon struct {
	Coupon
	tpl *template
}

// template is a coupon template (5.1).
type template struct {
	id                                              int64
	thirdID, name, rules, stores, items, categories string
	category, couponType, discountFee, fixedTerm    int64
	minimumFee, quantity, claimNumber, centreStatus int64
	restrictType, receiveMethod, useScope           int64
	suitStore, suitItem                             int64
	begin, end                                      time.Time
	issued                                          int64
}

type couponState struct {
	templates map[string]*template // by third_coupon_id
	byThird   map[string][]*coupon // by third coupon code (coupon_number)
	byMember  map[string][]*coupon
	codes     map[int64]bool
}

func (c *couponState) init() {
	c.templates = map[string]*template{}
	c.byThird = map[string][]*coupon{}
	c.byMember = map[string][]*coupon{}
	c.codes = map[int64]bool{}
}

// Coupons returns the member's coupons, in the order given.
func (p *Platform) Coupons(key string) []Coupon {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.find(key)
	if m == nil {
		return nil
	}
	var out []Coupon
	for _, c := range p.coupons.byMember[m.OpenID] {
		out = append(out, c.Coupon)
	}
	return out
}

// usable reports a coupon that can be used at t.
func (c *coupon) usable(t time.Time) bool {
	return c.Status == CouponValid && !t.Before(c.BeginTime) && !t.After(c.EndTime)
}

// validCoupons is a member's coupon_num: valid coupons not yet expired.
func (p *Platform) validCoupons(openID string, now time.Time) int64 {
	var n int64
	for _, c := range p.coupons.byMember[openID] {
		if c.Status == CouponValid && !now.After(c.EndTime) {
			n++
		}
	}
	return n
}

// templateAddIn is 5.1's body.
type templateAddIn struct {
	ThirdCouponID      wire.String `json:"third_coupon_id"`
	CouponCategory     integer     `json:"coupon_category"`
	Name               wire.String `json:"name"`
	DiscountFee        optInt      `json:"discount_fee"`
	CouponType         integer     `json:"coupon_type"`
	Rules              wire.String `json:"rules"`
	BeginTime          wire.Millis `json:"begin_time"`
	EndTime            wire.Millis `json:"end_time"`
	FixedTerm          integer     `json:"fixed_term"`
	MinimumFee         optInt      `json:"minimum_fee"`
	Quantity           integer     `json:"quantity"`
	ClaimNumber        integer     `json:"claim_number"`
	CouponCentreStatus integer     `json:"coupon_centre_status"`
	MemberRestrictType integer     `json:"member_restrict_type"`
	ReceiveMethod      integer     `json:"receive_method"`
	UseScopeType       integer     `json:"use_scope_type"`
	SuitStoreType      integer     `json:"suit_store_type"`
	SuitItemType       integer     `json:"suit_item_type"`
	Stores             text        `json:"stores"`
	Items              text        `json:"items"`
	Categories         text        `json:"categories"`
}

// templateAdd is 5.1. A third_coupon_id already used is 150002 (the
// emulator's one rule for every duplicate key).
func (p *Platform) templateAdd(r *request) (any, *paging, *Fail) {
	var in templateAddIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	var miss missing
	miss.str("third_coupon_id", in.ThirdCouponID)
	miss.num("coupon_category", in.CouponCategory.set)
	miss.str("name", in.Name)
	miss.num("discount_fee", in.DiscountFee.set)
	miss.num("coupon_type", in.CouponType.set)
	miss.str("rules", in.Rules)
	begin, end := time.Time(in.BeginTime), time.Time(in.EndTime)
	switch in.CouponType.v {
	case 1:
		miss.num("begin_time", !begin.IsZero())
		miss.num("end_time", !end.IsZero())
	case 0:
		miss.num("fixed_term", in.FixedTerm.set)
	}
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	cat, fee := in.CouponCategory.v, in.DiscountFee.v
	switch {
	case cat < 0 || cat > 4:
		return nil, nil, failMsg(CodeInvalidParams, "coupon_category")
	case in.CouponType.v < 0 || in.CouponType.v > 1:
		return nil, nil, failMsg(CodeInvalidParams, "coupon_type")
	case fee <= 0 || ((cat == 2 || cat == 4) && fee > 99):
		return nil, nil, failMsg(CodeInvalidParams, "discount_fee")
	case in.CouponType.v == 1 && !end.After(begin):
		return nil, nil, failMsg(CodeInvalidParams, "end_time")
	case in.CouponType.v == 0 && in.FixedTerm.v <= 0:
		return nil, nil, failMsg(CodeInvalidParams, "fixed_term")
	}
	id := string(in.ThirdCouponID)
	if p.coupons.templates[id] != nil {
		return nil, nil, failMsg(CodeCouponCreate, "third_coupon_id already used")
	}
	restrict := int64(2)
	if in.MemberRestrictType.set {
		restrict = in.MemberRestrictType.v
	}
	centre := int64(1)
	if in.CouponCentreStatus.set {
		centre = in.CouponCentreStatus.v
	}
	t := &template{
		id: p.nextID(), thirdID: id, name: string(in.Name), rules: string(in.Rules),
		stores: string(in.Stores), items: string(in.Items), categories: string(in.Categories),
		category: cat, couponType: in.CouponType.v, discountFee: fee, fixedTerm: in.FixedTerm.v,
		minimumFee: in.MinimumFee.v, quantity: in.Quantity.v, claimNumber: in.ClaimNumber.v,
		centreStatus: centre, restrictType: restrict, receiveMethod: in.ReceiveMethod.v,
		useScope: in.UseScopeType.v, suitStore: in.SuitStoreType.v, suitItem: in.SuitItemType.v,
		begin: begin, end: end,
	}
	p.coupons.templates[id] = t
	return t.id, nil, nil
}

// giveEntry is one element of 5.2's coupon_set.
type giveEntry struct {
	OpenID       wire.String `json:"open_id"`
	CouponNumber wire.String `json:"coupon_number"`
	ParamsType   wire.String `json:"params_type"`
}

// couponGiveIn is 5.2's body; coupon_set is JSON inside a string.
type couponGiveIn struct {
	CouponSet     wire.JSONString[[]giveEntry] `json:"coupon_set"`
	Number        integer                      `json:"number"`
	CreateTime    wire.Millis                  `json:"create_time"`
	ReceiveStore  optInt                       `json:"receive_store"`
	ThirdCouponID wire.String                  `json:"third_coupon_id"`
}

// giveItem is one element of 5.2's answer; code is a 19-digit integer
// (beyond 2^53, so never a float) and open_id the member's, even when the entry named a phone.
type giveItem struct {
	Code   int64  `json:"code"`
	OpenID string `json:"open_id"`
}

// couponGive is 5.2: all or nothing. Each entry gives `number` coupons that
// share its coupon_number; a coupon_number already given is 150002; a
// template's quantity or claim_number exceeded is 130001.
func (p *Platform) couponGive(r *request) (any, *paging, *Fail) {
	var in couponGiveIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	var miss missing
	miss.num("coupon_set", len(in.CouponSet.V) > 0)
	miss.num("number", in.Number.set)
	miss.num("create_time", !time.Time(in.CreateTime).IsZero())
	miss.str("third_coupon_id", in.ThirdCouponID)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if in.Number.v < 1 {
		return nil, nil, failMsg(CodeInvalidParams, "number")
	}
	t := p.coupons.templates[string(in.ThirdCouponID)]
	if t == nil {
		return nil, nil, fail(CodeCouponNotFound)
	}
	members := make([]*member, len(in.CouponSet.V))
	seen := map[string]bool{}
	perMember := map[string]int64{}
	for i, e := range in.CouponSet.V {
		if blank(e.OpenID) {
			return nil, nil, fail(CodeOpenIDOrPhone)
		}
		var m *member
		switch e.ParamsType {
		case "1", "":
			m = p.members[string(e.OpenID)]
		case "2":
			if !wire.IsMobile(string(e.OpenID)) {
				return nil, nil, failMsg(CodeInvalidParams, "coupon_set.open_id")
			}
			m = p.byPhone[string(e.OpenID)]
		default:
			return nil, nil, failMsg(CodeInvalidParams, "coupon_set.params_type")
		}
		if m == nil {
			return nil, nil, fail(CodeMemberNotFound)
		}
		num := string(e.CouponNumber)
		if blank(e.CouponNumber) {
			return nil, nil, failMsg(CodeInvalidParams, "coupon_set.coupon_number")
		}
		if seen[num] || len(p.coupons.byThird[num]) > 0 {
			return nil, nil, failMsg(CodeCouponCreate, "coupon_number already given")
		}
		seen[num] = true
		members[i] = m
		perMember[m.OpenID] += in.Number.v
	}
	if total := int64(len(members)) * in.Number.v; t.quantity > 0 && t.issued+total > t.quantity {
		return nil, nil, failMsg(CodeCouponCreate, "quantity")
	}
	if t.claimNumber > 0 {
		for openID, n := range perMember {
			held := int64(0)
			for _, c := range p.coupons.byMember[openID] {
				if c.tpl == t {
					held++
				}
			}
			if held+n > t.claimNumber {
				return nil, nil, failMsg(CodeCouponCreate, "claim_number")
			}
		}
	}
	received := time.Time(in.CreateTime)
	begin, end := t.begin, t.end
	if t.couponType == 0 {
		begin, end = received, received.AddDate(0, 0, int(t.fixedTerm))
	}
	var out []giveItem
	for i, e := range in.CouponSet.V {
		m := members[i]
		for range in.Number.v {
			c := &coupon{tpl: t, Coupon: Coupon{
				ID: p.nextID(), Code: p.couponCode(), ThirdCouponCode: string(e.CouponNumber),
				TemplateID: t.id, ThirdCouponID: t.thirdID, OpenID: m.OpenID, Status: CouponValid,
				ReceiveTime: received, BeginTime: begin, EndTime: end,
			}}
			p.coupons.byThird[c.ThirdCouponCode] = append(p.coupons.byThird[c.ThirdCouponCode], c)
			p.coupons.byMember[m.OpenID] = append(p.coupons.byMember[m.OpenID], c)
			t.issued++
			out = append(out, giveItem{Code: c.Code, OpenID: m.OpenID})
		}
	}
	return out, nil, nil
}

// couponCode returns a fresh 19-digit code like 3733288246799497770: far
// beyond 2^53, so a client that decodes it through float64 loses digits.
func (p *Platform) couponCode() int64 {
	for {
		c := 3_700_000_000_000_000_000 + p.rng.Int64N(100_000_000_000_000_000)
		if !p.coupons.codes[c] {
			p.coupons.codes[c] = true
			return c
		}
	}
}

// memberCoupons returns m's coupons with the third coupon code.
func (p *Platform) memberCoupons(m *member, third string) []*coupon {
	var out []*coupon
	for _, c := range p.coupons.byThird[third] {
		if c.OpenID == m.OpenID {
			out = append(out, c)
		}
	}
	return out
}

// couponStatusIn is 5.3's body.
type couponStatusIn struct {
	ThirdCouponCode wire.String `json:"third_coupon_code"`
	OpenID          wire.String `json:"open_id"`
	Status          integer     `json:"status"`
}

// couponStatus is 5.3: sets the status of the member's coupons with that
// code; setting the status a coupon already has succeeds again.
func (p *Platform) couponStatus(r *request) (any, *paging, *Fail) {
	var in couponStatusIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	var miss missing
	miss.str("third_coupon_code", in.ThirdCouponCode)
	miss.num("status", in.Status.set)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if in.Status.v < CouponInvalid || in.Status.v > CouponNotStarted {
		return nil, nil, failMsg(CodeInvalidParams, "status")
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	cs := p.memberCoupons(m, string(in.ThirdCouponCode))
	if len(cs) == 0 {
		return nil, nil, fail(CodeCouponNotFound)
	}
	for _, c := range cs {
		c.Status = in.Status.v
	}
	return string(in.ThirdCouponCode), nil, nil
}

// couponVerifyIn is 5.4's body.
type couponVerifyIn struct {
	OpenID           wire.String `json:"open_id"`
	OrderNo          wire.String `json:"order_no"`
	ThirdCouponCodes wire.String `json:"third_coupon_codes"`
	VerificationTime wire.Millis `json:"verification_time"`
	StoreID          optInt      `json:"store_id"`
}

// couponVerify is 5.4: uses one coupon per listed code (comma-separated),
// all or nothing; a code the member does not hold is 130002, and one with no
// coupon usable at verification_time (used, deleted, expired, not started)
// is 130003.
func (p *Platform) couponVerify(r *request) (any, *paging, *Fail) {
	var in couponVerifyIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	var miss missing
	miss.str("order_no", in.OrderNo)
	miss.str("third_coupon_codes", in.ThirdCouponCodes)
	miss.num("verification_time", !time.Time(in.VerificationTime).IsZero())
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	at := time.Time(in.VerificationTime)
	picked := map[*coupon]bool{}
	for _, code := range strings.Split(string(in.ThirdCouponCodes), ",") {
		code = strings.TrimSpace(code)
		if code == "" {
			continue
		}
		cs := p.memberCoupons(m, code)
		if len(cs) == 0 {
			return nil, nil, failMsg(CodeCouponNotFound, code)
		}
		var use *coupon
		for _, c := range cs {
			if !picked[c] && c.usable(at) {
				use = c
				break
			}
		}
		if use == nil {
			return nil, nil, failMsg(CodeCouponStatus, code)
		}
		picked[use] = true
	}
	if len(picked) == 0 {
		return nil, nil, failMsg(CodeInvalidParams, "third_coupon_codes")
	}
	for c := range picked {
		c.Status = CouponUsed
		c.UseOrderNo = string(in.OrderNo)
	}
	return nil, nil, nil
}

// couponListIn is 5.5's body.
type couponListIn struct {
	OpenID   wire.String `json:"open_id"`
	PageNo   integer     `json:"page_no"`
	PageSize integer     `json:"page_size"`
	Status   integer     `json:"status"`
}

// couponList is 5.5: newest first; page_no defaults to 1, page_size to 15;
// status 1 lists valid coupons not expired, 2 used ones, 3 expired ones (5.5's
// own enum, which differs from the item's), none all of them.
func (p *Platform) couponList(r *request) (any, *paging, *Fail) {
	var in couponListIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.OpenID) {
		return nil, nil, fail(CodeOpenIDOrPhone)
	}
	if in.Status.set && (in.Status.v < 1 || in.Status.v > 3) {
		return nil, nil, failMsg(CodeInvalidParams, "status")
	}
	no, size, f := page(in.PageNo, in.PageSize, 15)
	if f != nil {
		return nil, nil, f
	}
	m := p.find(string(in.OpenID))
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	var rows []*coupon
	for _, c := range p.coupons.byMember[m.OpenID] {
		expired := c.Status == CouponValid && r.now.After(c.EndTime)
		switch {
		case !in.Status.set,
			in.Status.v == 1 && c.Status == CouponValid && !expired,
			in.Status.v == 2 && c.Status == CouponUsed,
			in.Status.v == 3 && expired:
			rows = append(rows, c)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].ReceiveTime.Equal(rows[j].ReceiveTime) {
			return rows[i].ReceiveTime.After(rows[j].ReceiveTime)
		}
		return rows[i].ID > rows[j].ID
	})
	start, end := p.window(no, size, len(rows))
	items := make([]json.RawMessage, 0, end-start)
	for _, c := range rows[start:end] {
		items = append(items, couponView(c))
	}
	return items, &paging{PageNo: no, PageSize: size, TotalCount: int64(len(rows))}, nil
}

// couponView is one item of 5.5, in the field order of the document's
// example.
func couponView(c *coupon) json.RawMessage {
	t := c.tpl
	return object(
		field{"coupon_code", c.Code},
		field{"coupon_info_id", t.id},
		field{"stores", jsonText(t.stores)},
		field{"end_time", msOf(c.EndTime)},
		field{"minimum_fee", t.minimumFee},
		field{"receive_time", msOf(c.ReceiveTime)},
		field{"begin_time", msOf(c.BeginTime)},
		field{"coupon_category", t.category},
		field{"rules", t.rules},
		field{"discount_fee", t.discountFee},
		field{"member_restrict_type", t.restrictType},
		field{"third_coupon_code", c.ThirdCouponCode},
		field{"use_scope_type", t.useScope},
		field{"suit_store_type", t.suitStore},
		field{"suit_item_type", t.suitItem},
		field{"use_order_no", strOrNil(c.UseOrderNo)},
		field{"name", t.name},
		field{"categories", jsonText(t.categories)},
		field{"fixed_term", t.fixedTerm},
		field{"id", c.ID},
		field{"items", jsonText(t.items)},
		field{"coupon_type", t.couponType},
		field{"status", c.Status},
	)
}

// jsonText is a JSON-text field as 5.5 shows an empty one: "[]".
func jsonText(s string) string {
	if s == "" {
		return "[]"
	}
	return s
}
