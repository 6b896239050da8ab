package ump

import (
	"fmt"
	"log/slog"
)

// The request types and Member print masked (see format.go): each renders
// its LogValue for every verb of fmt.

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r MemberQuery) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r MemberQuery) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.MemberQuery", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r MemberQuery) String() string { return maskedString("ump.MemberQuery", r.LogValue(), false) }

// GoString returns the masked fields of LogValue in Go syntax.
func (r MemberQuery) GoString() string { return maskedString("ump.MemberQuery", r.LogValue(), true) }

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r ScoreRollbackRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r ScoreRollbackRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.ScoreRollbackRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r ScoreRollbackRequest) String() string {
	return maskedString("ump.ScoreRollbackRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r ScoreRollbackRequest) GoString() string {
	return maskedString("ump.ScoreRollbackRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r ScoreRecordsRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r ScoreRecordsRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.ScoreRecordsRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r ScoreRecordsRequest) String() string {
	return maskedString("ump.ScoreRecordsRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r ScoreRecordsRequest) GoString() string {
	return maskedString("ump.ScoreRecordsRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r PageRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r PageRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.PageRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r PageRequest) String() string { return maskedString("ump.PageRequest", r.LogValue(), false) }

// GoString returns the masked fields of LogValue in Go syntax.
func (r PageRequest) GoString() string { return maskedString("ump.PageRequest", r.LogValue(), true) }

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r CouponTemplateRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r CouponTemplateRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.CouponTemplateRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r CouponTemplateRequest) String() string {
	return maskedString("ump.CouponTemplateRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r CouponTemplateRequest) GoString() string {
	return maskedString("ump.CouponTemplateRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r CouponGrant) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r CouponGrant) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.CouponGrant", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r CouponGrant) String() string { return maskedString("ump.CouponGrant", r.LogValue(), false) }

// GoString returns the masked fields of LogValue in Go syntax.
func (r CouponGrant) GoString() string { return maskedString("ump.CouponGrant", r.LogValue(), true) }

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r GiveCouponsRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r GiveCouponsRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.GiveCouponsRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r GiveCouponsRequest) String() string {
	return maskedString("ump.GiveCouponsRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r GiveCouponsRequest) GoString() string {
	return maskedString("ump.GiveCouponsRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r CouponStatusRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r CouponStatusRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.CouponStatusRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r CouponStatusRequest) String() string {
	return maskedString("ump.CouponStatusRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r CouponStatusRequest) GoString() string {
	return maskedString("ump.CouponStatusRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r VerifyCouponsRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r VerifyCouponsRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.VerifyCouponsRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r VerifyCouponsRequest) String() string {
	return maskedString("ump.VerifyCouponsRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r VerifyCouponsRequest) GoString() string {
	return maskedString("ump.VerifyCouponsRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer: every field, phones and identity
// numbers masked.
func (r UserCouponsRequest) LogValue() slog.Value { return maskedValue(r) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r UserCouponsRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.UserCouponsRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r UserCouponsRequest) String() string {
	return maskedString("ump.UserCouponsRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r UserCouponsRequest) GoString() string {
	return maskedString("ump.UserCouponsRequest", r.LogValue(), true)
}

// LogValue implements slog.LogValuer like OrderDetails.LogValue.
func (r ConsumeOrderRequest) LogValue() slog.Value { return r.OrderDetails.LogValue() }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r ConsumeOrderRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.ConsumeOrderRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r ConsumeOrderRequest) String() string {
	return maskedString("ump.ConsumeOrderRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r ConsumeOrderRequest) GoString() string {
	return maskedString("ump.ConsumeOrderRequest", r.LogValue(), true)
}

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r CreateMemberRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.CreateMemberRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r CreateMemberRequest) String() string {
	return maskedString("ump.CreateMemberRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r CreateMemberRequest) GoString() string {
	return maskedString("ump.CreateMemberRequest", r.LogValue(), true)
}

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r ScoreChangeRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.ScoreChangeRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r ScoreChangeRequest) String() string {
	return maskedString("ump.ScoreChangeRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r ScoreChangeRequest) GoString() string {
	return maskedString("ump.ScoreChangeRequest", r.LogValue(), true)
}

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r OrderDetails) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.OrderDetails", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r OrderDetails) String() string { return maskedString("ump.OrderDetails", r.LogValue(), false) }

// GoString returns the masked fields of LogValue in Go syntax.
func (r OrderDetails) GoString() string { return maskedString("ump.OrderDetails", r.LogValue(), true) }

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (r RefundOrderRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "ump.RefundOrderRequest", r.LogValue())
}

// String returns the masked fields of LogValue.
func (r RefundOrderRequest) String() string {
	return maskedString("ump.RefundOrderRequest", r.LogValue(), false)
}

// GoString returns the masked fields of LogValue in Go syntax.
func (r RefundOrderRequest) GoString() string {
	return maskedString("ump.RefundOrderRequest", r.LogValue(), true)
}

// Format implements fmt.Formatter: the masked fields of LogValue, whatever the verb.
func (m Member) Format(f fmt.State, verb rune) { formatMasked(f, verb, "ump.Member", m.LogValue()) }

// String returns the masked fields of LogValue.
func (m Member) String() string { return maskedString("ump.Member", m.LogValue(), false) }

// GoString returns the masked fields of LogValue in Go syntax.
func (m Member) GoString() string { return maskedString("ump.Member", m.LogValue(), true) }
