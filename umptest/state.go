package umptest

import (
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/platform"
)

// Member is a member of the emulated platform: the fields of 3.1, the ids
// the platform assigns, and the balances.
type Member struct {
	// OpenID is the member's open_id, 32 lower-case hex digits unless
	// AddMember was given one.
	OpenID       string
	Phone        string
	Nickname     string
	RealName     string
	ProjectID    string
	OuterUserID  string
	QID          string
	AvatarURL    string
	Gender       int64
	Birthday     string // yyyy-MM-dd
	Country      string
	Province     string
	City         string
	IDCard       string
	Email        string
	CompanyName  string
	Remark       string
	EmployeeID   int64
	EmployeeName string
	// UserNum is the platform's member number, like "58500000003".
	UserNum      string
	RegisteredAt time.Time
	// Score is the available points: always the sum of the member's
	// statements.
	Score int64
	// Growth is the growth value, which decides the level; each consume
	// order (4.1) adds its order_score.
	Growth int64
}

// AddMember registers a member directly, without a call, and returns its
// open_id. Phone is required (11 digits starting with 1) and must be new;
// empty Nickname and ProjectID take defaults; a set OpenID is kept; a
// nonzero Score is the opening balance, booked as one statement of kind
// "adjust". It panics on a bad or duplicate phone or open_id.
func (h *Handler) AddMember(m Member) string {
	id, err := h.p.AddMember(platform.Member(m))
	mustf(err, "AddMember")
	return id
}

// Member returns the member with this open_id or phone.
func (h *Handler) Member(openIDOrPhone string) (Member, bool) {
	m, ok := h.p.Member(openIDOrPhone)
	return Member(m), ok
}

// SetBalance moves the member's balance to points, booking the difference as
// one statement of kind "adjust". It panics if there is no such member.
func (h *Handler) SetBalance(openIDOrPhone string, points int64) {
	mustf(h.p.SetBalance(openIDOrPhone, points), "SetBalance")
}

// SetGrowth sets the member's growth value, and so its level. It panics if
// there is no such member.
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

// Statement is one entry of a member's points ledger.
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
	Desc  string
	Time  time.Time
	// Reverses is the statement a rollback reversed; ReversedBy the
	// rollback that reversed this one.
	Reverses, ReversedBy string
}

// Ledger returns the member's statements, oldest first.
func (h *Handler) Ledger(openIDOrPhone string) []Statement {
	src := h.p.Ledger(openIDOrPhone)
	out := make([]Statement, len(src))
	for i, s := range src {
		out[i] = Statement(s)
	}
	return out
}

// Audit reports the first member whose balance is not the sum of the
// member's statements, or is negative; nil if the books are consistent.
func (h *Handler) Audit() error { return h.p.Audit() }

// Level is a row of the level table (3.8).
type Level struct {
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
	src := h.p.Levels()
	out := make([]Level, len(src))
	for i, l := range src {
		out[i] = Level(l)
	}
	return out
}

// SetLevels replaces the level table (by default the seven levels of the
// document's 3.8 example, reached at growth 0, 300, 1000, 3000, 6000, 10000
// and 20000). It panics on an empty table.
func (h *Handler) SetLevels(levels []Level) {
	ls := make([]platform.Level, len(levels))
	for i, l := range levels {
		ls[i] = platform.Level(l)
	}
	mustf(h.p.SetLevels(ls), "SetLevels")
}

// Order is a synced consume order (4.1) or refund order (4.2).
type Order struct {
	OrderNo string
	// ParentOrderNo is the consume order a refund returns (refunds only).
	ParentOrderNo string
	OpenID        string
	// ID is the order_id answered.
	ID          int64
	StatementID string
	Amount      float64
	// Score is the order_score: points granted (4.1) or taken back (4.2).
	Score int64
	// Refunded is the points later refunds took back (consume orders only).
	Refunded    int64
	Refund      bool
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

// Coupon is a coupon given to a member (5.2).
type Coupon struct {
	// ID is the user-coupon id of 5.5; Code the platform's 19-digit code.
	ID   int64
	Code int64
	// ThirdCouponCode is the coupon_number the integrator gave it in 5.2.
	ThirdCouponCode string
	// TemplateID is the template's platform id (coupon_info_id);
	// ThirdCouponID the integrator's template id.
	TemplateID    int64
	ThirdCouponID string
	OpenID        string
	// Status is one of the Coupon status constants.
	Status      int64
	ReceiveTime time.Time
	BeginTime   time.Time
	EndTime     time.Time
	UseOrderNo  string
}

// Coupons returns the member's coupons, in the order given.
func (h *Handler) Coupons(openIDOrPhone string) []Coupon {
	src := h.p.Coupons(openIDOrPhone)
	out := make([]Coupon, len(src))
	for i, c := range src {
		out[i] = Coupon(c)
	}
	return out
}

// LastSMSCode returns the last code sent to phone by 6.1, used or not.
func (h *Handler) LastSMSCode(phone string) (string, bool) { return h.p.LastSMSCode(phone) }

// IssueToken issues a token pair outside the daily limits and without
// retiring any other token, for a test that wants a working token without
// spending the day's one obtain: store it in a ump.TokenStore, or sign raw
// requests with its AccessToken. A later obtain (2.1) retires it like any
// other. Version is 0, as CompareAndSwap expects.
func (h *Handler) IssueToken() ump.Token {
	t := h.p.IssueToken()
	return ump.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, AccessExpiresAt: t.AccessExpiresAt,
		RefreshExpiresAt: t.RefreshExpiresAt, ObtainedAt: t.At}
}

// ExpireAccessTokens makes every access token issued so far stop working
// now: the next call with one is answered HTTP 401.
func (h *Handler) ExpireAccessTokens() { h.p.ExpireAccessTokens() }

// ExpireRefreshTokens makes every refresh token issued so far stop working
// now: the next refresh with one is answered 1006.
func (h *Handler) ExpireRefreshTokens() { h.p.ExpireRefreshTokens() }
