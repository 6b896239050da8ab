package umptest

import (
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest/internal/engine"
)

// Member is a member of the emulated platform, as AddMember seeds it and
// Member returns it: the fields of 3.1, the ids the platform assigns, and
// the balances.
type Member struct {
	// OpenID is the member's open_id, 32 lower-case hex digits unless
	// AddMember was given one.
	OpenID string
	// Phone is the 11-digit mainland mobile number the member registered
	// with; AddMember requires it, and no two members share one.
	Phone string
	// Nickname and ProjectID are required by 3.1; AddMember fills an empty
	// Nickname with "会员" and the phone's last four digits, an empty
	// ProjectID with "18756". The other fields up to EmployeeName are 3.1's
	// optional ones, as sent.
	Nickname     string
	RealName     string
	ProjectID    string
	OuterUserID  string
	QID          string
	AvatarURL    string
	Gender       int64 // 0 unknown, 1 male, 2 female, as 3.1 sends it
	Birthday     string
	Country      string
	Province     string
	City         string
	IDCard       string
	Email        string
	CompanyName  string
	Remark       string
	EmployeeID   int64
	EmployeeName string
	// UserNum is the platform's member number, like "58500000003";
	// registration assigns it (a value given to AddMember is replaced).
	UserNum string
	// RegisteredAt is the registration time; AddMember takes the server's
	// clock when it is zero.
	RegisteredAt time.Time
	// Score is the available points: always the sum of the member's
	// statements. Given to AddMember, it is the opening balance, booked as
	// one statement of kind "adjust". The document types it Integer: it
	// stays within the int32 range.
	Score int64
	// Growth is the growth value, which decides the level; each consume
	// order (4.1) adds its order_score. Within the int32 range too.
	Growth int64
}

func (m Member) toEngine() engine.Member { return engine.Member(m) }

func memberOf(m engine.Member) Member { return Member(m) }

// AddMember registers a member directly, without a call, and returns its
// open_id. Phone is required (11 digits starting with 1) and must be new;
// empty Nickname and ProjectID take defaults; a set OpenID is kept; a
// nonzero Score is the opening balance, booked as one statement of kind
// "adjust". It panics on a bad or duplicate phone or open_id, or a Score or
// Growth outside the int32 range.
func (h *Handler) AddMember(m Member) string {
	id, err := h.p.AddMember(m.toEngine())
	mustf(err, "AddMember")
	return id
}

// Member returns the member with this open_id or phone.
func (h *Handler) Member(openIDOrPhone string) (Member, bool) {
	m, ok := h.p.Member(openIDOrPhone)
	return memberOf(m), ok
}

// SetBalance moves the member's balance to points, booking the difference as
// one statement of kind "adjust". It panics if there is no such member or
// points is outside the int32 range.
func (h *Handler) SetBalance(openIDOrPhone string, points int64) {
	mustf(h.p.SetBalance(openIDOrPhone, points), "SetBalance")
}

// SetGrowth sets the member's growth value, and so its level. It panics if
// there is no such member or growth is outside the int32 range.
func (h *Handler) SetGrowth(openIDOrPhone string, growth int64) {
	mustf(h.p.SetGrowth(openIDOrPhone, growth), "SetGrowth")
}

// Balance returns the member's available points (0 for nobody).
func (h *Handler) Balance(openIDOrPhone string) int64 { return h.p.Balance(openIDOrPhone) }

// Kinds of Statement.
const (
	KindChange   = "change"   // a score change (3.3)
	KindRollback = "rollback" // a rollback (3.4)
	KindOrder    = "order"    // a consume order (4.1)
	KindRefund   = "refund"   // a refund order (4.2)
	KindAdjust   = "adjust"   // AddMember's opening balance, SetBalance
)

// Statement is one entry of a member's points ledger, as Ledger returns it:
// which call moved how many points, and the ids the platform answered.
type Statement struct {
	// ID is the statement_id the platform answered with: "SP0" and digits
	// for changes and rollbacks, a number for orders (like the document's
	// "134").
	ID string
	// RecordID is the id 3.5 lists the statement under.
	RecordID int64
	OpenID   string
	// ChangeID is the change_id of a change or rollback.
	ChangeID string
	// OrderNo is the order_no of an order, or the out_biz_no of a change.
	OrderNo string
	// Kind is one of the Kind constants.
	Kind string
	// Delta is the points the statement moved: negative for points taken.
	Delta int64
	// Desc is the text 3.5 lists: the change_reason, an order's desc, or
	// the platform's own.
	Desc string
	// Time is when the platform booked it, on the server's clock.
	Time time.Time
	// Reverses is the statement a rollback reversed (part of). ReversedBy
	// lists the rollbacks that reversed this statement, oldest first;
	// Reversed is the points they took back in all (a positive number).
	Reverses   string
	ReversedBy []string
	Reversed   int64
}

func statementOf(s engine.Statement) Statement {
	return Statement{ID: s.ID, RecordID: s.RecordID, OpenID: s.OpenID, ChangeID: s.ChangeID, OrderNo: s.OrderNo,
		Kind: s.Kind, Delta: s.Delta, Desc: s.Desc, Time: s.Time, Reverses: s.Reverses,
		ReversedBy: s.ReversedBy, Reversed: s.Reversed}
}

// Ledger returns the member's statements, oldest first.
func (h *Handler) Ledger(openIDOrPhone string) []Statement {
	return convert(h.p.Ledger(openIDOrPhone), statementOf)
}

// Audit reports the first member whose balance is not the sum of the
// member's statements, or is negative; nil if the books are consistent.
func (h *Handler) Audit() error { return h.p.Audit() }

// Level is a row of the level table (3.8), as Levels returns it and
// SetLevels takes it: a member whose growth value reaches Growth has the
// level.
type Level struct {
	// ID is the level's id in 3.8's list; Number its level_number (the
	// member object's level_num), which orders the table.
	ID     int64
	Number int64
	Name   string
	// Growth is the growth value that reaches the level.
	Growth int64
	// Rights is the JSON text answered as a member's rights (may be empty).
	Rights string
}

// Levels returns the level table, by level number.
func (h *Handler) Levels() []Level {
	return convert(h.p.Levels(), func(l engine.Level) Level { return Level(l) })
}

// SetLevels replaces the level table (by default the seven levels of the
// document's 3.8 example, reached at growth 0, 300, 1000, 3000, 6000, 10000
// and 20000). It panics on an empty table.
func (h *Handler) SetLevels(levels []Level) {
	mustf(h.p.SetLevels(convert(levels, func(l Level) engine.Level { return engine.Level(l) })), "SetLevels")
}

// Order is a synced consume order (4.1) or refund order (4.2), as Order
// returns it.
type Order struct {
	OrderNo string
	// ParentOrderNo is the consume order a refund returns (refunds only).
	ParentOrderNo string
	OpenID        string
	// ID is the order_id answered; StatementID the statement_id of the
	// ledger entry the order booked.
	ID          int64
	StatementID string
	// Amount is the order_amount, exact to the fen.
	Amount ump.Amount
	// Score is the order_score: points granted (4.1) or taken back (4.2).
	Score int64
	// Refunded is the points later refunds took back (consume orders only).
	Refunded int64
	// Refund tells a refund order (4.2) from a consume order (4.1).
	Refund bool
	// ConsumeDate is the consume_date sent.
	ConsumeDate time.Time
}

// Order returns the order with this order_no.
func (h *Handler) Order(orderNo string) (Order, bool) {
	o, ok := h.p.Order(orderNo)
	return Order(o), ok
}

// Coupon statuses, as 5.3 sets them and 5.5 lists them.
const (
	CouponInvalid    = 0 // invalid or deleted
	CouponValid      = 1
	CouponUsed       = 2
	CouponInUse      = 3
	CouponNotStarted = 4
)

// Coupon is a coupon given to a member (5.2), as Coupons returns it: its
// codes, template, status and validity period.
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

// Coupons returns the member's coupons, in the order given.
func (h *Handler) Coupons(openIDOrPhone string) []Coupon {
	return convert(h.p.Coupons(openIDOrPhone), func(c engine.Coupon) Coupon { return Coupon(c) })
}

// LastSMSCode returns the last code sent to phone by 6.1, used or not.
func (h *Handler) LastSMSCode(phone string) (string, bool) { return h.p.LastSMSCode(phone) }

// IssueToken issues a token pair outside the daily limits and without
// retiring any other token, for a test that wants a working token without
// spending the day's one obtain: store it in a ump.TokenStore, or sign raw
// requests with its AccessToken. A later obtain (2.1) retires it like any
// other. Version is 0, as CompareAndSwap expects.
func (h *Handler) IssueToken() ump.Token { return h.p.IssueToken() }

// ExpireAccessTokens makes every access token issued so far stop working
// now: the next call with one is answered HTTP 401.
func (h *Handler) ExpireAccessTokens() { h.p.ExpireAccessTokens() }

// ExpireRefreshTokens makes every refresh token issued so far stop working
// now: the next refresh with one is answered 1006.
func (h *Handler) ExpireRefreshTokens() { h.p.ExpireRefreshTokens() }

// convert maps a slice, keeping nil as nil.
func convert[A, B any](in []A, f func(A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
