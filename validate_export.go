package ump

// Validate reports what is wrong with the sale exactly as SyncConsume would,
// without sending anything: a *ValidationError naming every bad field, or
// nil. A queue (package outbox) calls it to refuse a bad sale before storing
// it.
func (r *ConsumeOrderRequest) Validate() error {
	v := checker{method: epConsumeOrder.method}
	r.check(&v)
	return v.err()
}

// Validate reports what is wrong with the return exactly as SyncRefund
// would, without sending anything: a *ValidationError, or nil.
func (r *RefundOrderRequest) Validate() error {
	v := checker{method: epRefundOrder.method}
	r.check(&v)
	v.required("parent_order_no", r.ParentOrderNo)
	return v.err()
}

// Validate reports what is wrong with the change exactly as Score.Change
// would, without sending anything: a *ValidationError, or nil.
func (r *ScoreChangeRequest) Validate() error { return checkChange(r) }
