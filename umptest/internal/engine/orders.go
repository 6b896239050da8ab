package engine

import (
	"encoding/json"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

// Order is a synced consume order (4.1) or refund order (4.2).
// umptest.Order has the same fields.
type Order struct {
	OrderNo string
	// ParentOrderNo is the consume order a refund returns (refunds only).
	ParentOrderNo string
	OpenID        string
	// ID is the order_id answered; StatementID the statement_id of the
	// ledger entry the order booked.
	ID          int64
	StatementID string
	// Amount is the order_amount.
	Amount ump.Amount
	// Score is the order_score: points granted (4.1) or taken back (4.2).
	Score int64
	// Refunded is the points later refunds took back (consume orders only).
	Refunded int64
	// Refund tells a refund order (4.2) from a consume order (4.1).
	Refund      bool
	ConsumeDate time.Time
}

type order struct{ Order }

// Order returns the order with this order_no.
func (p *Platform) Order(orderNo string) (Order, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.orders[orderNo]
	if !ok {
		return Order{}, false
	}
	return o.Order, true
}

// orderIn is the body of 4.1 and 4.2 (snake_case, as the tables; the 4.1 example alone is camelCase). Every field
// is decoded, so that a value of the wrong shape is refused as 1001.
type orderIn struct {
	StoreID       optInt                           `json:"store_id"`
	OpenID        wire.String                      `json:"open_id"`
	Phone         wire.String                      `json:"phone"`
	ConsumeDate   wire.DateTime                    `json:"consume_date"`
	OrderAmount   amount                           `json:"order_amount"`
	OrderNo       wire.String                      `json:"order_no"`
	ParentOrderNo wire.String                      `json:"parent_order_no"`
	Desc          wire.String                      `json:"desc"`
	ShopID        optInt                           `json:"shop_id"`
	OrderScore    integer                          `json:"order_score"`
	MaterialInfo  wire.JSONString[json.RawMessage] `json:"material_info"`
	FinEntityInfo wire.JSONString[json.RawMessage] `json:"fin_entity_info"`
	PseaZjlx      integer                          `json:"psea_zjlx"`
	PseaZjlxName  wire.String                      `json:"psea_zjlx_name"`
	PseaZjhm      wire.String                      `json:"psea_zjhm"`
	BillHead      wire.String                      `json:"bill_head"`
	BillNo        wire.String                      `json:"bill_no"`
	BillDate      wire.DateTime                    `json:"bill_date"`
	CashierNo     wire.String                      `json:"cashier_no"`
	CashierName   wire.String                      `json:"cashier_name"`
	VipNumber     wire.String                      `json:"vip_number"`
	VipName       wire.String                      `json:"vip_name"`
	BillStartTime wire.DateTime                    `json:"bill_start_time"`
	BillEndTime   wire.DateTime                    `json:"bill_end_time"`
}

// orderMember checks the parts 4.1 and 4.2 share and finds the member.
func (p *Platform) orderMember(in *orderIn, refund bool) (*member, *Fail) {
	if blank(in.OpenID) && blank(in.Phone) {
		return nil, fail(CodeOpenIDOrPhone)
	}
	if !blank(in.Phone) && !wire.IsMobile(string(in.Phone)) {
		return nil, fail(CodeInvalidPhone)
	}
	var miss missing
	miss.num("consume_date", !time.Time(in.ConsumeDate).IsZero())
	miss.num("order_amount", in.OrderAmount.set)
	miss.str("order_no", in.OrderNo)
	if refund {
		miss.str("parent_order_no", in.ParentOrderNo)
	}
	miss.num("order_score", in.OrderScore.set)
	if f := miss.fail(); f != nil {
		return nil, f
	}
	if in.OrderScore.v < 0 {
		return nil, failMsg(CodeInvalidParams, "order_score")
	}
	if in.OrderAmount.v < 0 {
		return nil, failMsg(CodeInvalidParams, "order_amount")
	}
	return p.member(in.OpenID, in.Phone)
}

// consumeOrder is 4.1: grants order_score points with one statement. An
// order_no already synced (as a consume or a refund order) is 150002, which
// lets a caller who lost the answer learn that the order went through: the
// document names no code for a repeated order_no, and 150002 ("唯一标识已存在")
// is its points section's code for a repeated key, which an order (it grants
// points) is taken to share. A balance or growth value pushed past the
// Integer range is 1001.
func (p *Platform) consumeOrder(r *request) (any, *paging, *Fail) {
	var in orderIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	m, f := p.orderMember(&in, false)
	if f != nil {
		return nil, nil, f
	}
	no := string(in.OrderNo)
	if p.orders[no] != nil {
		return nil, nil, failMsg(CodeDuplicate, "order_no")
	}
	if !fitsInteger(m.Score+in.OrderScore.v) || !fitsInteger(m.Growth+in.OrderScore.v) {
		return nil, nil, failMsg(CodeInvalidParams, "order_score: the balance or growth value would leave the Integer range")
	}
	desc := string(in.Desc)
	if desc == "" {
		desc = "消费增加积分"
	}
	st := &statement{kind: KindOrder, orderNo: no, delta: in.OrderScore.v, desc: desc, at: r.now}
	p.post(m, st)
	m.Growth += in.OrderScore.v
	o := &order{Order{OrderNo: no, OpenID: m.OpenID, ID: p.nextID(), StatementID: st.id, Amount: in.OrderAmount.v,
		Score: in.OrderScore.v, ConsumeDate: time.Time(in.ConsumeDate)}}
	p.orders[no] = o
	return object(field{"statement_id", st.id}, field{"order_score", o.Score}, field{"order_id", o.ID}), nil, nil
}

// refundOrder is 4.2: takes back order_score points of an earlier consume
// order of the same member (120002 when there is none); refunds of one order
// may not take back more than it granted (1001).
func (p *Platform) refundOrder(r *request) (any, *paging, *Fail) {
	var in orderIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	m, f := p.orderMember(&in, true)
	if f != nil {
		return nil, nil, f
	}
	parent := p.orders[string(in.ParentOrderNo)]
	if parent == nil || parent.Refund || parent.OpenID != m.OpenID {
		return nil, nil, fail(CodeOrderNotFound)
	}
	no := string(in.OrderNo)
	if p.orders[no] != nil {
		return nil, nil, failMsg(CodeDuplicate, "order_no")
	}
	score := in.OrderScore.v
	if parent.Refunded+score > parent.Score {
		return nil, nil, failMsg(CodeInvalidParams, "order_score exceeds the points the order granted")
	}
	if m.Score < score {
		return nil, nil, fail(CodeInsufficient)
	}
	desc := string(in.Desc)
	if desc == "" {
		desc = "退货扣减积分"
	}
	st := &statement{kind: KindRefund, orderNo: no, delta: -score, desc: desc, at: r.now}
	p.post(m, st)
	parent.Refunded += score
	p.orders[no] = &order{Order{OrderNo: no, ParentOrderNo: parent.OrderNo, OpenID: m.OpenID, ID: p.nextID(),
		StatementID: st.id, Amount: in.OrderAmount.v, Score: score, Refund: true, ConsumeDate: time.Time(in.ConsumeDate)}}
	return object(field{"statement_id", st.id}, field{"order_score", score}), nil, nil
}
