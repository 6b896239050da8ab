package ump

import "time"

// Validate reports what is wrong with the sale exactly as SyncConsume would,
// without sending anything: a *ValidationError naming every bad field, or
// nil. A queue (package outbox) calls it to refuse a bad sale before storing
// it.
func (r *ConsumeOrderRequest) Validate() error {
	if r == nil {
		r = &ConsumeOrderRequest{}
	}
	return validateAlone(&epConsumeOrder, r)
}

// Validate reports what is wrong with the return exactly as SyncRefund
// would, without sending anything: a *ValidationError, or nil.
func (r *RefundOrderRequest) Validate() error {
	if r == nil {
		r = &RefundOrderRequest{}
	}
	return validateAlone(&epRefundOrder, r)
}

// Validate reports what is wrong with the change exactly as Score.Change
// would, without sending anything: a *ValidationError, or nil.
func (r *ScoreChangeRequest) Validate() error {
	if r == nil {
		r = &ScoreChangeRequest{}
	}
	return validateAlone(&epScoreChange, r)
}

// validateAlone is Client.validate without a client: date rules read the
// system clock.
func validateAlone(ep *endpoint, r validator) error {
	v := checker{method: ep.method, now: time.Now}
	r.check(&v)
	return v.err()
}
