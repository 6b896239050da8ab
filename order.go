package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// OrderService holds the gateway's order calls (section 4): a POS or shop
// system reports each sale and each return so the platform can grant or take
// back points.
type OrderService service

// Neither call is deduplicated by the gateway as far as the document says, so
// neither is repeated once the request may have reached it.
var (
	epConsumeOrder = endpoint{method: "wk.user.consume.order"}
	epRefundOrder  = endpoint{method: "wk.user.refund.order"}
	// The same calls as ResolveConsume and ResolveRefund send them: these
	// count on the gateway refusing an order_no it has seen (150002), and
	// where it does, a repeat cannot apply twice, so they are repeated like
	// reads.
	epConsumeOrderResolve = endpoint{method: "wk.user.consume.order", idempotent: true, keyedWrite: true}
	epRefundOrderResolve  = endpoint{method: "wk.user.refund.order", idempotent: true, keyedWrite: true}
)

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

// SyncConsume reports a sale.
//
// It is not repeated once the request may have reached the gateway: the
// document does not say that the gateway deduplicates order_no, so a second
// send might grant the points twice. An ambiguous failure (a timeout, a
// reset, a proxy's error page, a cut-off answer) returns an
// *OutcomeUnknownError whose Key is "order_no=<OrderNo>"; settle it with
// ResolveConsume. A "system busy" answer is definite (nothing applied) and
// is returned as an *APIError.
func (s *OrderService) SyncConsume(ctx context.Context, req *ConsumeOrderRequest) (*ConsumeOrderResult, error) {
	return s.consume(ctx, req, false)
}

// ResolveConsume settles a sale whose SyncConsume ended with an unknown
// outcome: it sends the same order again, same order_no, and reads the
// answer. Success means the first call had not applied and this one did. A
// duplicate answer (150002, "unique id already exists") means the first call
// had applied: the result has AlreadyApplied set and there is no error.
// Because it counts on that duplicate answer, ResolveConsume repeats
// ambiguous failures like a read, within the RetryPolicy; if none of its
// attempts is answered it returns an *OutcomeUnknownError again, and can be
// run again later (persist the request: it is JSON-serialisable).
//
// This relies on the gateway refusing an order_no it has already synced,
// which the test gateway (umptest) does but the document does not promise:
// confirm it with the platform before relying on ResolveConsume, or settle
// the order by other means (the platform's back office).
func (s *OrderService) ResolveConsume(ctx context.Context, req *ConsumeOrderRequest) (*ConsumeOrderResult, error) {
	return s.consume(ctx, req, true)
}

func (s *OrderService) consume(ctx context.Context, req *ConsumeOrderRequest, resolving bool) (*ConsumeOrderResult, error) {
	if req == nil {
		req = &ConsumeOrderRequest{}
	}
	v := checker{method: epConsumeOrder.method}
	req.check(&v)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, applied, err := s.sync(ctx, &epConsumeOrder, &epConsumeOrderResolve, resolving, req.body(""), req.OrderNo)
	if err != nil {
		return nil, err
	}
	return &ConsumeOrderResult{StatementID: string(d.StatementID), OrderScore: int64(d.OrderScore), OrderID: int64(d.OrderID),
		AlreadyApplied: applied}, nil
}

// SyncRefund reports a return. Like SyncConsume it is never repeated after
// an ambiguous failure, which returns an *OutcomeUnknownError whose Key is
// "order_no=<OrderNo>"; settle it with ResolveRefund.
func (s *OrderService) SyncRefund(ctx context.Context, req *RefundOrderRequest) (*RefundOrderResult, error) {
	return s.refund(ctx, req, false)
}

// ResolveRefund settles a return whose SyncRefund ended with an unknown
// outcome, as ResolveConsume does for a sale: the same order_no is sent
// again, and a duplicate answer (150002) means the return had applied
// (AlreadyApplied). The same caveat holds: the document does not promise
// that the gateway refuses a repeated order_no.
func (s *OrderService) ResolveRefund(ctx context.Context, req *RefundOrderRequest) (*RefundOrderResult, error) {
	return s.refund(ctx, req, true)
}

func (s *OrderService) refund(ctx context.Context, req *RefundOrderRequest, resolving bool) (*RefundOrderResult, error) {
	if req == nil {
		req = &RefundOrderRequest{}
	}
	v := checker{method: epRefundOrder.method}
	req.check(&v)
	v.required("parent_order_no", req.ParentOrderNo)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, applied, err := s.sync(ctx, &epRefundOrder, &epRefundOrderResolve, resolving, req.body(req.ParentOrderNo), req.OrderNo)
	if err != nil {
		return nil, err
	}
	return &RefundOrderResult{StatementID: string(d.StatementID), OrderScore: int64(d.OrderScore), AlreadyApplied: applied}, nil
}

// sync sends an order through ep, or, resolving an unknown outcome, through
// resolveEp, where a duplicate answer means "applied before" and every
// failure short of a definite answer leaves the outcome unknown.
func (s *OrderService) sync(ctx context.Context, ep, resolveEp *endpoint, resolving bool, body *orderBody, orderNo string) (d orderData, applied bool, err error) {
	key := "order_no=" + orderNo
	if !resolving {
		d, _, err := callKeyed[orderData](ctx, s.client, ep, body, key)
		return d, false, err
	}
	ctx, trace := s.client.openCall(ctx, resolveEp, key, true) // success settles an unknown outcome
	defer func() { trace.close(ctx, resolveEp, err) }()
	d, _, err = callKeyed[orderData](ctx, s.client, resolveEp, body, key)
	var apiErr *APIError
	switch {
	case err == nil:
		return d, false, nil
	case errors.Is(err, duplicateKey):
		return orderData{}, true, nil
	case errors.Is(err, ErrOutcomeUnknown):
		return d, false, err
	case errors.As(err, &apiErr):
		return d, false, err // definite: this send was refused
	}
	return d, false, &OutcomeUnknownError{Method: resolveEp.method, Key: key, Err: err}
}

// check records the shared rules. Values are never repeated in the reasons:
// they may be a phone or an identity number.
func (o *OrderDetails) check(v *checker) {
	if strings.TrimSpace(o.OpenID) == "" && strings.TrimSpace(o.Phone) == "" {
		v.add("open_id", "required when phone is empty")
		v.add("phone", "required when open_id is empty")
	}
	v.phone("phone", o.Phone)
	if o.ConsumeDate.IsZero() {
		v.add("consume_date", "required")
	}
	if o.OrderAmount < 0 {
		v.add("order_amount", "must not be negative")
	}
	v.required("order_no", o.OrderNo)
	if o.OrderScore < 0 {
		v.add("order_score", "must not be negative")
	}
	if o.StoreID < 0 {
		v.add("store_id", "must not be negative")
	}
	if o.ShopID < 0 {
		v.add("shop_id", "must not be negative")
	}
}

// orderBody is the wire form of 4.1 and 4.2: snake_case as every table says
// (NOTES.md #2), times as Beijing wall clock, the goods and settlement lists
// as JSON strings (NOTES.md #9).
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
