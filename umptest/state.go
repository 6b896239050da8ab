package umptest

import (
	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/platform"
)

// Member is a member of the emulated platform, as AddMember seeds it and
// Member returns it: the fields of 3.1, the ids the platform assigns, and
// the balances. Its fields are documented at [platform.Member].
type Member = platform.Member

// AddMember registers a member directly, without a call, and returns its
// open_id. Phone is required (11 digits starting with 1) and must be new;
// empty Nickname and ProjectID take defaults; a set OpenID is kept; a
// nonzero Score is the opening balance, booked as one statement of kind
// "adjust". It panics on a bad or duplicate phone or open_id.
func (h *Handler) AddMember(m Member) string {
	id, err := h.p.AddMember(m)
	mustf(err, "AddMember")
	return id
}

// Member returns the member with this open_id or phone.
func (h *Handler) Member(openIDOrPhone string) (Member, bool) { return h.p.Member(openIDOrPhone) }

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
	KindChange   = platform.KindChange   // a score change (3.3)
	KindRollback = platform.KindRollback // a rollback (3.4)
	KindOrder    = platform.KindOrder    // a consume order (4.1)
	KindRefund   = platform.KindRefund   // a refund order (4.2)
	KindAdjust   = platform.KindAdjust   // AddMember's opening balance, SetBalance
)

// Statement is one entry of a member's points ledger, as Ledger returns it:
// which call moved how many points, and the ids the platform answered.
type Statement = platform.Statement

// Ledger returns the member's statements, oldest first.
func (h *Handler) Ledger(openIDOrPhone string) []Statement { return h.p.Ledger(openIDOrPhone) }

// Audit reports the first member whose balance is not the sum of the
// member's statements, or is negative; nil if the books are consistent.
func (h *Handler) Audit() error { return h.p.Audit() }

// Level is a row of the level table (3.8), as Levels returns it and
// SetLevels takes it: a member whose growth value reaches Growth has the
// level.
type Level = platform.Level

// Levels returns the level table, by level number.
func (h *Handler) Levels() []Level { return h.p.Levels() }

// SetLevels replaces the level table (by default the seven levels of the
// document's 3.8 example, reached at growth 0, 300, 1000, 3000, 6000, 10000
// and 20000). It panics on an empty table.
func (h *Handler) SetLevels(levels []Level) {
	mustf(h.p.SetLevels(levels), "SetLevels")
}

// Order is a synced consume order (4.1) or refund order (4.2), as Order
// returns it.
type Order = platform.Order

// Order returns the order with this order_no.
func (h *Handler) Order(orderNo string) (Order, bool) { return h.p.Order(orderNo) }

// Coupon statuses, as 5.3 sets them and 5.5 lists them.
const (
	CouponInvalid    = platform.CouponInvalid // invalid or deleted
	CouponValid      = platform.CouponValid
	CouponUsed       = platform.CouponUsed
	CouponInUse      = platform.CouponInUse
	CouponNotStarted = platform.CouponNotStarted
)

// Coupon is a coupon given to a member (5.2), as Coupons returns it: its
// codes, template, status and validity period.
type Coupon = platform.Coupon

// Coupons returns the member's coupons, in the order given.
func (h *Handler) Coupons(openIDOrPhone string) []Coupon { return h.p.Coupons(openIDOrPhone) }

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
