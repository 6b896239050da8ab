package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// OrderService holds the gateway's order calls (section 4): a POS or shop
// system reports each sale and each return so the platform can grant or take
// back points.
type OrderService service

// OrderDetails are the fields a sale (section 4.1) and a return (4.2) share.
// Required: OrderNo, OpenID or Phone, ConsumeDate, OrderAmount (zero is sent
// as 0) and OrderScore (zero or more). The rest is optional and left out of
// the request when zero.
type OrderDetails struct {
	// OrderNo is the order's own number (order_no); an ambiguous failure
	// names it in the *OutcomeUnknownError so the order can be reconciled.
	OrderNo string
	// OpenID identifies the member; OpenID or Phone must be set.
	OpenID string
	// Phone is the member's mainland mobile number; OpenID or Phone must be
	// set.
	Phone string
	// ConsumeDate is the time of the sale, or of the return (consume_date;
	// sent as Beijing wall-clock time).
	ConsumeDate time.Time
	// OrderAmount is the order's total (of the return, for a refund).
	OrderAmount Amount
	// OrderScore is the points to grant (a sale) or take back (a return).
	OrderScore int64
	// Desc describes the order, such as "免税店购物".
	Desc string
	// StoreID and ShopID identify the store and the shop (store_id, shop_id).
	StoreID int64
	ShopID  int64
	// Materials lists the goods (material_info, sent as a JSON string).
	Materials []Material
	// Settlements lists the settlement details (fin_entity_info, sent as a
	// JSON string).
	Settlements []Settlement

	// Customer's identity document (psea_zjlx, psea_zjlx_name, psea_zjhm).
	// The SDK never puts CustomerIDNumber in an error or a log line.
	CustomerIDType     int    // code of the document type, such as 14
	CustomerIDTypeName string // such as "港澳居民"
	CustomerIDNumber   string

	// Bill header of the POS (bill_head, bill_no, bill_date, cashier_no,
	// cashier_name, vip_number, vip_name, bill_start_time, bill_end_time).
	BillHead      string
	BillNo        string
	BillDate      time.Time
	CashierNo     string
	CashierName   string
	VIPNumber     string
	VIPName       string
	BillStartTime time.Time
	BillEndTime   time.Time
}

// LogValue implements slog.LogValuer: the order's keys and totals, the phone
// masked, the customer's identity document left out.
func (o OrderDetails) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("order_no", o.OrderNo),
		slog.String("open_id", o.OpenID),
		slog.String("phone", redact.Phone(o.Phone)),
		slog.String("order_amount", o.OrderAmount.String()),
		slog.Int64("order_score", o.OrderScore),
	)
}

// ConsumeOrderRequest reports a sale (section 4.1).
type ConsumeOrderRequest struct {
	OrderDetails
}

// RefundOrderRequest reports a return (section 4.2). In it, ConsumeDate is
// the time of the return and OrderScore the points to take back.
type RefundOrderRequest struct {
	OrderDetails
	// ParentOrderNo is the order_no of the sale the return belongs to;
	// required.
	ParentOrderNo string
}

// LogValue implements slog.LogValuer like OrderDetails.LogValue, adding the
// parent order.
func (r RefundOrderRequest) LogValue() slog.Value {
	return slog.GroupValue(append(r.OrderDetails.LogValue().Group(), slog.String("parent_order_no", r.ParentOrderNo))...)
}

// ConsumeOrderResult is the answer to a sale.
type ConsumeOrderResult struct {
	// StatementID identifies the points movement.
	StatementID string
	// OrderScore is the points granted.
	OrderScore int64
	// OrderID is the platform's id of the order.
	OrderID int64
	// AlreadyApplied is set by ResolveConsume when the gateway refused the
	// order_no as already synced (150002): the sale had been applied by the
	// call whose outcome was unknown. The other fields are then zero.
	AlreadyApplied bool
}

// RefundOrderResult is the answer to a return.
type RefundOrderResult struct {
	// StatementID identifies the points movement.
	StatementID string
	// OrderScore is the points taken back.
	OrderScore int64
	// AlreadyApplied is set by ResolveRefund when the gateway refused the
	// order_no as already synced (150002), like ConsumeOrderResult's.
	AlreadyApplied bool
}

// Material is one line of goods (an element of material_info), with the
// document's field names.
type Material struct {
	Name     string // material_name
	BarCode  string // bar_code
	Type     string // ty, such as "1"
	BaseUnit string // base_unit_id, the unit such as "条"
	// Price is sent as a string of yuan, such as "120", as in the document.
	Price Amount
	// Extra holds further fields agreed with the platform ("新的字段直接在json
	// 字符串上拼接即可"); a key that names one of the fields above is ignored.
	Extra map[string]any
}

// Settlement is one settlement line (an element of fin_entity_info), with the
// document's field names.
type Settlement struct {
	FinEntity  string // fin_entity, such as "6812728783716537794"
	SettleID   string // settleId, such as "01"
	SettleName string // settleId_name, such as "港币"
	// Extra holds further fields agreed with the platform; a key that names
	// one of the fields above is ignored.
	Extra map[string]any
}

// Neither call is deduplicated by the gateway as far as the document says,
// so neither is sent again once the request may have reached it; the
// Resolve methods send one again on purpose (see endpoint.resending).
var (
	epConsumeOrder = endpoint{method: "wk.user.consume.order", retry: retryNever}
	epRefundOrder  = endpoint{method: "wk.user.refund.order", retry: retryNever}
)

// SyncConsume reports a sale (4.1). An order_no already synced fails with an
// error matching ErrAlreadyExists (150002). It is never sent again once the
// request may have reached the gateway (the document does not promise that
// the gateway deduplicates order_no): without a definite answer it returns
// an *OutcomeUnknownError whose Key is "order_no=<OrderNo>"; settle it with
// ResolveConsume. "System busy" is a definite *APIError.
func (s *OrderService) SyncConsume(ctx context.Context, req *ConsumeOrderRequest) (*ConsumeOrderResult, error) {
	return sendOrder(ctx, s, &epConsumeOrder, req, false, (*orderData).consumeResult)
}

// ResolveConsume settles a sale whose SyncConsume ended with an unknown
// outcome by sending it again, same order_no: success means it applied now;
// a duplicate answer (150002) means the first call had applied, and the
// result has AlreadyApplied set with no error. It is repeated like a read
// within the RetryPolicy; if no attempt is answered it returns an
// *OutcomeUnknownError again and can run later (the request is
// JSON-serialisable). It relies on the gateway refusing an order_no it has
// synced, which umptest does but the document does not promise: confirm it
// with the platform.
func (s *OrderService) ResolveConsume(ctx context.Context, req *ConsumeOrderRequest) (*ConsumeOrderResult, error) {
	return sendOrder(ctx, s, &epConsumeOrder, req, true, (*orderData).consumeResult)
}

// SyncRefund reports a return (4.2). Like SyncConsume, an order_no already
// synced matches ErrAlreadyExists, and it is never sent again after an
// ambiguous failure, which returns an *OutcomeUnknownError whose Key is
// "order_no=<OrderNo>"; settle it with ResolveRefund.
func (s *OrderService) SyncRefund(ctx context.Context, req *RefundOrderRequest) (*RefundOrderResult, error) {
	return sendOrder(ctx, s, &epRefundOrder, req, false, (*orderData).refundResult)
}

// ResolveRefund settles a return whose SyncRefund ended with an unknown
// outcome, as ResolveConsume does for a sale, with the same caveat.
func (s *OrderService) ResolveRefund(ctx context.Context, req *RefundOrderRequest) (*RefundOrderResult, error) {
	return sendOrder(ctx, s, &epRefundOrder, req, true, (*orderData).refundResult)
}

// orderRequest is a sale or a return: *ConsumeOrderRequest or
// *RefundOrderRequest.
type orderRequest[R any] interface {
	*R
	validator
	orderBody() *orderBody
}

// orderBody is the sale's wire form.
func (r *ConsumeOrderRequest) orderBody() *orderBody { return r.body("") }

// orderBody is the return's wire form.
func (r *RefundOrderRequest) orderBody() *orderBody { return r.body(r.ParentOrderNo) }

// sendOrder checks a sale or a return and sends it to ep under its
// order_no; result builds the answer, which also comes with an error
// matching ErrAppliedUnreadable. With resolve it sends an order of unknown
// outcome again (see endpoint.resending), and resolved reads the answer.
func sendOrder[R any, P orderRequest[R], T any](ctx context.Context, s *OrderService, ep *endpoint, req P,
	resolve bool, result func(d *orderData, applied bool) *T) (_ *T, err error) {
	c := clientOf(s)
	req, err = checkRequest(c, ep, req)
	if err != nil {
		return nil, err
	}
	body := req.orderBody()
	key := "order_no=" + body.OrderNo
	if resolve {
		ep = ep.resending()
		var trace *callTrace
		ctx, trace = c.openCall(ctx, ep, key)
		defer func() { trace.close(ctx, err) }()
		trace.markResolving(true) // success settles an unknown outcome
	}
	d, _, err := call[orderData](ctx, c, ep, body, key)
	applied := false
	if resolve {
		d, applied, err = resolved(d, err, ep.method, key)
	}
	if err != nil && !errors.Is(err, ErrAppliedUnreadable) {
		return nil, err
	}
	return result(&d, applied), err
}

// resolved reads the answer to an order sent again under key: a duplicate
// answer (150002) means "applied before" (the bool), and every failure
// short of a definite answer leaves the outcome unknown.
func resolved(d orderData, err error, method, key string) (orderData, bool, error) {
	var apiErr *APIError
	switch {
	case err == nil:
		return d, false, nil
	case errors.Is(err, duplicateKey):
		return orderData{}, true, nil
	case errors.Is(err, ErrOutcomeUnknown), errors.Is(err, ErrAppliedUnreadable), errors.As(err, &apiErr):
		return d, false, err // unknown still, applied but unreadable, or definite: this send was refused
	}
	return d, false, &OutcomeUnknownError{Method: method, Key: key, Err: err}
}

// check records the rules a sale and a return share.
func (o *OrderDetails) check(v *checker) {
	v.openIDOrPhone(o.OpenID, o.Phone)
	v.phone("phone", o.Phone)
	if o.ConsumeDate.IsZero() {
		v.add("consume_date", "required")
	}
	v.notNegative("order_amount", int64(o.OrderAmount))
	v.required("order_no", o.OrderNo)
	v.notNegative("order_score", o.OrderScore)
	v.int32("order_score", o.OrderScore)
	v.int32("psea_zjlx", int64(o.CustomerIDType))
	v.notNegative("store_id", o.StoreID)
	v.notNegative("shop_id", o.ShopID)
}

// check records the shared rules and the parent order.
func (r *RefundOrderRequest) check(v *checker) {
	r.OrderDetails.check(v)
	v.required("parent_order_no", r.ParentOrderNo)
}

// orderBody is the wire form of 4.1 and 4.2: snake_case as every table says
// (docs/spec-notes.md#2), times as Beijing wall clock, the goods and
// settlement lists as JSON strings (docs/spec-notes.md#9).
type orderBody struct {
	StoreID       int64                          `json:"store_id,omitempty"`
	OpenID        string                         `json:"open_id,omitempty"`
	Phone         string                         `json:"phone,omitempty"`
	ConsumeDate   wire.DateTime                  `json:"consume_date"`
	OrderAmount   Amount                         `json:"order_amount"`
	OrderNo       string                         `json:"order_no"`
	ParentOrderNo string                         `json:"parent_order_no,omitempty"`
	Desc          string                         `json:"desc,omitempty"`
	ShopID        int64                          `json:"shop_id,omitempty"`
	OrderScore    int64                          `json:"order_score"`
	MaterialInfo  *wire.JSONString[[]Material]   `json:"material_info,omitempty"`
	FinEntityInfo *wire.JSONString[[]Settlement] `json:"fin_entity_info,omitempty"`
	PseaZjlx      int                            `json:"psea_zjlx,omitempty"`
	PseaZjlxName  string                         `json:"psea_zjlx_name,omitempty"`
	PseaZjhm      string                         `json:"psea_zjhm,omitempty"`
	BillHead      string                         `json:"bill_head,omitempty"`
	BillNo        string                         `json:"bill_no,omitempty"`
	BillDate      wire.DateTime                  `json:"bill_date,omitzero"`
	CashierNo     string                         `json:"cashier_no,omitempty"`
	CashierName   string                         `json:"cashier_name,omitempty"`
	VIPNumber     string                         `json:"vip_number,omitempty"`
	VIPName       string                         `json:"vip_name,omitempty"`
	BillStartTime wire.DateTime                  `json:"bill_start_time,omitzero"`
	BillEndTime   wire.DateTime                  `json:"bill_end_time,omitzero"`
}

func (o *OrderDetails) body(parentOrderNo string) *orderBody {
	b := &orderBody{
		StoreID: o.StoreID, OpenID: o.OpenID, Phone: o.Phone,
		ConsumeDate: wire.DateTime(o.ConsumeDate), OrderAmount: o.OrderAmount,
		OrderNo: o.OrderNo, ParentOrderNo: parentOrderNo, Desc: o.Desc, ShopID: o.ShopID,
		OrderScore: o.OrderScore,
		PseaZjlx:   o.CustomerIDType, PseaZjlxName: o.CustomerIDTypeName, PseaZjhm: o.CustomerIDNumber,
		BillHead: o.BillHead, BillNo: o.BillNo, BillDate: optionalTime(o.BillDate),
		CashierNo: o.CashierNo, CashierName: o.CashierName,
		VIPNumber: o.VIPNumber, VIPName: o.VIPName,
		BillStartTime: optionalTime(o.BillStartTime), BillEndTime: optionalTime(o.BillEndTime),
	}
	if len(o.Materials) > 0 {
		b.MaterialInfo = &wire.JSONString[[]Material]{V: o.Materials}
	}
	if len(o.Settlements) > 0 {
		b.FinEntityInfo = &wire.JSONString[[]Settlement]{V: o.Settlements}
	}
	return b
}

// optionalTime maps every zero time, whatever its location, to the zero
// value that omitzero leaves out.
func optionalTime(t time.Time) wire.DateTime {
	if t.IsZero() {
		return wire.DateTime{}
	}
	return wire.DateTime(t)
}

type orderData struct {
	StatementID wire.String `json:"statement_id"`
	OrderScore  wire.Int64  `json:"order_score"`
	OrderID     wire.Int64  `json:"order_id"`
}

func (d *orderData) consumeResult(applied bool) *ConsumeOrderResult {
	return &ConsumeOrderResult{StatementID: string(d.StatementID), OrderScore: int64(d.OrderScore), OrderID: int64(d.OrderID),
		AlreadyApplied: applied}
}

func (d *orderData) refundResult(applied bool) *RefundOrderResult {
	return &RefundOrderResult{StatementID: string(d.StatementID), OrderScore: int64(d.OrderScore), AlreadyApplied: applied}
}

// MarshalJSON writes the document's field names, the price as a string of
// yuan, then Extra's fields in key order.
func (m Material) MarshalJSON() ([]byte, error) {
	return marshalObject([]jsonField{
		{"material_name", m.Name, m.Name == ""},
		{"bar_code", m.BarCode, m.BarCode == ""},
		{"ty", m.Type, m.Type == ""},
		{"base_unit_id", m.BaseUnit, m.BaseUnit == ""},
		{"price", string(m.Price.appendYuan(nil)), false},
	}, m.Extra)
}

// UnmarshalJSON reads the fields MarshalJSON writes, the price as a number or
// a string; other fields go to Extra.
func (m *Material) UnmarshalJSON(b []byte) error {
	var w struct {
		Name     wire.String `json:"material_name"`
		BarCode  wire.String `json:"bar_code"`
		Type     wire.String `json:"ty"`
		BaseUnit wire.String `json:"base_unit_id"`
		Price    Amount      `json:"price"`
	}
	extra, err := unmarshalObject(b, &w, "material_name", "bar_code", "ty", "base_unit_id", "price")
	if err != nil {
		return err
	}
	*m = Material{Name: string(w.Name), BarCode: string(w.BarCode), Type: string(w.Type),
		BaseUnit: string(w.BaseUnit), Price: w.Price, Extra: extra}
	return nil
}

// MarshalJSON writes the document's field names, then Extra's fields in key
// order.
func (s Settlement) MarshalJSON() ([]byte, error) {
	return marshalObject([]jsonField{
		{"fin_entity", s.FinEntity, s.FinEntity == ""},
		{"settleId", s.SettleID, s.SettleID == ""},
		{"settleId_name", s.SettleName, s.SettleName == ""},
	}, s.Extra)
}

// UnmarshalJSON reads the fields MarshalJSON writes; other fields go to Extra.
func (s *Settlement) UnmarshalJSON(b []byte) error {
	var w struct {
		FinEntity  wire.String `json:"fin_entity"`
		SettleID   wire.String `json:"settleId"`
		SettleName wire.String `json:"settleId_name"`
	}
	extra, err := unmarshalObject(b, &w, "fin_entity", "settleId", "settleId_name")
	if err != nil {
		return err
	}
	*s = Settlement{FinEntity: string(w.FinEntity), SettleID: string(w.SettleID), SettleName: string(w.SettleName), Extra: extra}
	return nil
}

type jsonField struct {
	name  string
	value any
	omit  bool
}

// marshalObject writes fields in order, then the keys of extra that no field
// names, sorted.
func marshalObject(fields []jsonField, extra map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	known := make(map[string]bool, len(fields))
	put := func(name string, value any) error {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		if err := wire.MarshalTo(&buf, name); err != nil {
			return err
		}
		buf.WriteByte(':')
		return wire.MarshalTo(&buf, value)
	}
	for _, f := range fields {
		known[f.name] = true
		if f.omit {
			continue
		}
		if err := put(f.name, f.value); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !known[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := put(k, extra[k]); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// unmarshalObject decodes b into known and returns the fields not named in
// names, numbers kept exact as json.Number (nil when there are none).
func unmarshalObject(b []byte, known any, names ...string) (map[string]any, error) {
	if err := json.Unmarshal(b, known); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var all map[string]any
	if err := dec.Decode(&all); err != nil {
		return nil, err
	}
	for _, n := range names {
		delete(all, n)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return all, nil
}
