package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/wire"
)

func bjTime(s string) time.Time {
	t, err := time.ParseInLocation(wire.DateTimeLayout, s, wire.Beijing)
	if err != nil {
		panic(err)
	}
	return t
}

// fullOrder fills every field with the document's example values.
func fullOrder() OrderDetails {
	return OrderDetails{
		OrderNo: "66239d2848de", OpenID: "25c56912e05847c0b09f03ca7e52b796", Phone: "17600000000",
		ConsumeDate: time.Date(2021, 1, 28, 16, 0, 0, 0, time.UTC), // 2021-01-29 00:00:00 in Beijing
		OrderAmount: Yuan(1000, 40), OrderScore: 100, Desc: "免税店购物",
		StoreID: 20206023, ShopID: 20206111,
		Materials:      []Material{{Name: "硬盒经典双喜牌香烟", BarCode: "6901028004770", Type: "1", BaseUnit: "条", Price: Yuan(120, 0)}},
		Settlements:    []Settlement{{FinEntity: "6812728783716537794", SettleID: "01", SettleName: "港币"}},
		CustomerIDType: 14, CustomerIDTypeName: "港澳居民", CustomerIDNumber: "M05833549",
		BillHead: "6812728783586514369", BillNo: "201011082106210894", BillDate: bjTime("2021-06-21 00:00:00"),
		CashierNo: "20359", CashierName: "成东红", VIPNumber: "3333333", VIPName: "xxxx",
		BillStartTime: bjTime("2021-06-21 21:11:56"), BillEndTime: bjTime("2021-06-21 21:11:56"),
	}
}

func TestOrderSyncConsumeSendsSnakeCaseBody(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.consume.order", fixture(t, "order-consume.json"))

	res, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{fullOrder()})
	require.NoError(t, err)
	require.Equal(t, &ConsumeOrderResult{StatementID: "134", OrderScore: 100, OrderID: 12345}, res)

	require.Len(t, g.calls(), 1)
	require.Equal(t, `{"store_id":20206023,"open_id":"25c56912e05847c0b09f03ca7e52b796","phone":"17600000000",`+
		`"consume_date":"2021-01-29 00:00:00","order_amount":1000.4,"order_no":"66239d2848de","desc":"免税店购物",`+
		`"shop_id":20206111,"order_score":100,`+
		`"material_info":"[{\"material_name\":\"硬盒经典双喜牌香烟\",\"bar_code\":\"6901028004770\",\"ty\":\"1\",\"base_unit_id\":\"条\",\"price\":\"120\"}]",`+
		`"fin_entity_info":"[{\"fin_entity\":\"6812728783716537794\",\"settleId\":\"01\",\"settleId_name\":\"港币\"}]",`+
		`"psea_zjlx":14,"psea_zjlx_name":"港澳居民","psea_zjhm":"M05833549",`+
		`"bill_head":"6812728783586514369","bill_no":"201011082106210894","bill_date":"2021-06-21 00:00:00",`+
		`"cashier_no":"20359","cashier_name":"成东红","vip_number":"3333333","vip_name":"xxxx",`+
		`"bill_start_time":"2021-06-21 21:11:56","bill_end_time":"2021-06-21 21:11:56"}`,
		string(g.calls()[0].Body))

	body := g.lastBody()
	require.Equal(t, json.Number("1000.4"), body["order_amount"])
	require.Equal(t, json.Number("20206023"), body["store_id"])
	require.Equal(t, json.Number("100"), body["order_score"])
	info, ok := body["material_info"].(string)
	require.True(t, ok, "material_info is a string holding JSON, got %T", body["material_info"])
	var materials []map[string]any
	require.NoError(t, json.Unmarshal([]byte(info), &materials))
	require.Equal(t, []map[string]any{{"material_name": "硬盒经典双喜牌香烟", "bar_code": "6901028004770", "ty": "1", "base_unit_id": "条", "price": "120"}}, materials)
	_, ok = body["fin_entity_info"].(string)
	require.True(t, ok, "fin_entity_info is a string holding JSON")
}

// Optional fields stay off the wire; required numbers are sent even when zero.
func TestOrderSyncConsumeMinimalBody(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.consume.order", fixture(t, "order-consume.json"))
	_, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{OrderDetails{
		OrderNo: "A1", Phone: "17600000000", ConsumeDate: bjTime("2021-06-23 00:00:00"),
		BillDate: time.Time{}.In(wire.Beijing), // zero, in a zone: still left out
	}})
	require.NoError(t, err)
	require.Equal(t, `{"phone":"17600000000","consume_date":"2021-06-23 00:00:00","order_amount":0,"order_no":"A1","order_score":0}`,
		string(g.calls()[0].Body))
}

func TestOrderSyncConsumeLargeNumbersExact(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.consume.order", `{"success":true,"error_code":200,"data":`+
		`{"statement_id":6812728783716537794,"order_score":"9007199254740993","order_id":9223372036854775807}}`)
	req := &ConsumeOrderRequest{fullOrder()}
	req.StoreID, req.ShopID = 9007199254740993, 9223372036854775807
	res, err := c.Order.SyncConsume(context.Background(), req)
	require.NoError(t, err)
	require.Equal(t, &ConsumeOrderResult{StatementID: "6812728783716537794", OrderScore: 9007199254740993, OrderID: 9223372036854775807}, res)
	body := g.lastBody()
	require.Equal(t, json.Number("9007199254740993"), body["store_id"])
	require.Equal(t, json.Number("9223372036854775807"), body["shop_id"])
}

// The document's own partial 4.2 request, rebuilt with the SDK.
func TestOrderSyncRefund(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.refund.order", fixture(t, "order-refund.json"))

	res, err := c.Order.SyncRefund(context.Background(), &RefundOrderRequest{
		OrderDetails: OrderDetails{
			OrderNo: "refund_test-order-no9", OrderScore: 0, Phone: "19921361967", OrderAmount: Yuan(1000, 40),
			Materials:   []Material{{Name: "硬盒经典双喜牌香烟", BarCode: "6901028004770", Type: "1", BaseUnit: "条", Price: Yuan(120, 0)}},
			ConsumeDate: bjTime("2021-08-24 00:00:00"),
		},
		ParentOrderNo: "test-order-no7",
	})
	require.NoError(t, err)
	require.Equal(t, &RefundOrderResult{StatementID: "134", OrderScore: 100}, res)
	require.Equal(t, `{"phone":"19921361967","consume_date":"2021-08-24 00:00:00","order_amount":1000.4,`+
		`"order_no":"refund_test-order-no9","parent_order_no":"test-order-no7","order_score":0,`+
		`"material_info":"[{\"material_name\":\"硬盒经典双喜牌香烟\",\"bar_code\":\"6901028004770\",\"ty\":\"1\",\"base_unit_id\":\"条\",\"price\":\"120\"}]"}`,
		string(g.calls()[0].Body))
}

func TestOrderValidation(t *testing.T) {
	const secretID, phone = "M05833549", "1760000000x"
	bad := OrderDetails{
		Phone: phone, OrderAmount: -1, OrderScore: -1, StoreID: -1, ShopID: -1,
		CustomerIDNumber: secretID,
	}
	c, g := setup(t)

	_, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{bad})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, "wk.user.consume.order", verr.Method)
	for _, f := range []string{"phone", "consume_date", "order_amount", "order_no", "order_score", "store_id", "shop_id"} {
		require.True(t, verr.Has(f), "%s missing from %v", f, err)
	}
	require.NotContains(t, err.Error(), phone)
	require.NotContains(t, err.Error(), secretID)

	_, err = c.Order.SyncRefund(context.Background(), &RefundOrderRequest{OrderDetails: fullOrder()})
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []FieldError{{"parent_order_no", "required"}}, verr.Fields)

	none := fullOrder()
	none.OpenID, none.Phone = "", " "
	_, err = c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{none})
	require.ErrorAs(t, err, &verr)
	require.True(t, verr.Has("open_id") && verr.Has("phone"), "%v", err)

	_, err = c.Order.SyncRefund(context.Background(), nil)
	require.ErrorAs(t, err, &verr)
	require.True(t, verr.Has("order_no") && verr.Has("parent_order_no"), "%v", err)

	require.Empty(t, g.calls(), "nothing may be sent")
}

func TestOrderSyncAmbiguousFailureIsOutcomeUnknown(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.consume.order", hangUp(t))
	g.handle("wk.user.refund.order", hangUp(t))
	o := fullOrder()

	_, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{o})
	var unknown *OutcomeUnknownError
	require.ErrorAs(t, err, &unknown)
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Equal(t, "order_no=66239d2848de", unknown.Key)
	require.NotContains(t, err.Error(), o.Phone)
	require.NotContains(t, err.Error(), o.CustomerIDNumber)

	_, err = c.Order.SyncRefund(context.Background(), &RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"})
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, "wk.user.refund.order", unknown.Method)
	require.Equal(t, "order_no=66239d2848de", unknown.Key)

	require.Len(t, g.calls(), 2, "each order was sent exactly once")
}

func TestOrderAPIErrorIsDefinite(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.refund.order", `{"success":false,"error_code":120002,"error_message":"订单不存在","data":null}`)
	_, err := c.Order.SyncRefund(context.Background(), &RefundOrderRequest{OrderDetails: fullOrder(), ParentOrderNo: "P1"})
	require.ErrorIs(t, err, ErrOrderNotFound)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Len(t, g.calls(), 1)
}

// The document's material_info example decodes (price as a string), and
// fields it does not name survive a round trip in Extra.
func TestMaterialAndSettlementJSON(t *testing.T) {
	var ms []Material
	require.NoError(t, json.Unmarshal([]byte(`[{"material_name": "硬盒经典双喜牌香烟", "bar_code": "6901028004770", "ty": "1", "base_unit_id": "条", "price": "120"}]`), &ms))
	require.Equal(t, []Material{{Name: "硬盒经典双喜牌香烟", BarCode: "6901028004770", Type: "1", BaseUnit: "条", Price: Yuan(120, 0)}}, ms)

	m := Material{Name: "n", Price: Yuan(0, 5), Extra: map[string]any{"qty": 2, "price": "ignored", "batch": "b<1>"}}
	b, err := wire.Marshal(m)
	require.NoError(t, err)
	require.Equal(t, `{"material_name":"n","price":"0.05","batch":"b<1>","qty":2}`, string(b))
	var back Material
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, Material{Name: "n", Price: 5, Extra: map[string]any{"qty": json.Number("2"), "batch": "b<1>"}}, back)

	var ss []Settlement
	require.NoError(t, json.Unmarshal([]byte(`[{"fin_entity": "6812728783716537794","settleId": "01", "settleId_name":"港币", "rate": 0.91}]`), &ss))
	require.Equal(t, []Settlement{{FinEntity: "6812728783716537794", SettleID: "01", SettleName: "港币", Extra: map[string]any{"rate": json.Number("0.91")}}}, ss)
	b, err = wire.Marshal(ss)
	require.NoError(t, err)
	require.Equal(t, `[{"fin_entity":"6812728783716537794","settleId":"01","settleId_name":"港币","rate":0.91}]`, string(b))
}

func TestOrderLogValueMasksPersonalData(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	o := fullOrder()
	log.Info("sale", "order", ConsumeOrderRequest{o})
	log.Info("return", "order", RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"})
	out := buf.String()
	require.NotContains(t, out, o.Phone)
	require.NotContains(t, out, o.CustomerIDNumber)
	require.Contains(t, out, `"phone":"176****0000"`)
	require.Contains(t, out, `"order_no":"66239d2848de"`)
	require.Contains(t, out, `"order_amount":"1000.40"`)
	require.Contains(t, out, `"parent_order_no":"P1"`)
}

func TestOrderResolveSendsTheSameOrder(t *testing.T) {
	dup := `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`
	o := fullOrder()
	t.Run("duplicate: it had applied", func(t *testing.T) {
		c, g := setup(t)
		g.reply("wk.user.consume.order", dup)
		g.reply("wk.user.refund.order", dup)
		res, err := c.Order.ResolveConsume(context.Background(), &ConsumeOrderRequest{o})
		require.NoError(t, err)
		require.Equal(t, &ConsumeOrderResult{AlreadyApplied: true}, res)
		ref, err := c.Order.ResolveRefund(context.Background(), &RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"})
		require.NoError(t, err)
		require.Equal(t, &RefundOrderResult{AlreadyApplied: true}, ref)
	})
	t.Run("success: applied now", func(t *testing.T) {
		c, g := setup(t)
		g.reply("wk.user.consume.order", fixture(t, "order-consume.json"))
		first, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{o})
		require.NoError(t, err)
		res, err := c.Order.ResolveConsume(context.Background(), &ConsumeOrderRequest{o})
		require.NoError(t, err)
		require.Equal(t, first, res)
		calls := g.calls()
		require.Len(t, calls, 2)
		require.Equal(t, calls[0].Body, calls[1].Body, "the same order, same order_no")
	})
	t.Run("unanswered: repeated, then still unknown", func(t *testing.T) {
		c, g := setup(t) // MaxAttempts 3
		g.handle("wk.user.refund.order", hangUp(t))
		_, err := c.Order.ResolveRefund(context.Background(), &RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"})
		var unknown *OutcomeUnknownError
		require.ErrorAs(t, err, &unknown)
		require.Equal(t, "order_no=66239d2848de", unknown.Key)
		require.Equal(t, "wk.user.refund.order", unknown.Method)
		require.Len(t, g.calls(), 3)
	})
	t.Run("definite failure", func(t *testing.T) {
		c, g := setup(t)
		g.reply("wk.user.refund.order", `{"success":false,"error_code":120002,"error_message":"订单不存在","data":null}`)
		_, err := c.Order.ResolveRefund(context.Background(), &RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"})
		require.ErrorIs(t, err, ErrOrderNotFound)
		require.NotErrorIs(t, err, ErrOutcomeUnknown)
	})
}

// A job that persists an order as JSON and resolves it after a restart sends
// the very same body.
func TestOrderRequestSurvivesJSON(t *testing.T) {
	o := fullOrder()
	o.Materials[0].Extra = map[string]any{"qty": json.Number("2"), "note": "赠品"}
	req := RefundOrderRequest{OrderDetails: o, ParentOrderNo: "P1"}
	saved, err := json.Marshal(req)
	require.NoError(t, err)
	var back RefundOrderRequest
	require.NoError(t, json.Unmarshal(saved, &back))
	want, err := wire.Marshal(req.body(req.ParentOrderNo))
	require.NoError(t, err)
	got, err := wire.Marshal(back.body(back.ParentOrderNo))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}
