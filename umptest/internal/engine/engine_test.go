package engine

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

const testSecret = "platform-test-secret"

// t0 is a Beijing morning, far from a day boundary.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, wire.Beijing)

// fixture is a platform on a clock that stands still, with a valid token.
type fixture struct {
	t     *testing.T
	p     *Platform
	now   time.Time
	token string
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the config changed by edit.
func newFixtureWith(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, now: t0}
	cfg := Config{AppID: "app", AppSecret: testSecret, Now: func() time.Time { return f.now }, Seed: 7}
	if edit != nil {
		edit(&cfg)
	}
	f.p = New(cfg)
	f.token = f.p.IssueToken().AccessToken
	return f
}

func (f *fixture) advance(d time.Duration) { f.now = f.now.Add(d) }

// result is a reply with its envelope decoded.
type result struct {
	Reply
	env map[string]any
	raw struct {
		Data json.RawMessage `json:"data"`
	}
}

// call sends body to method as a signed POST; body is marshalled unless it
// is a string.
func (f *fixture) call(method string, body any) result {
	f.t.Helper()
	var b []byte
	if s, ok := body.(string); ok {
		b = []byte(s)
	} else {
		var err error
		b, err = wire.Marshal(body)
		require.NoError(f.t, err)
	}
	q := url.Values{"access_token": {f.token}, "timestamp": {strconv.FormatInt(f.now.UnixMilli(), 10)}}
	q.Set("sign", ump.Sign(q, b, testSecret))
	return f.decode(f.p.Handle(Call{Verb: http.MethodPost, Path: "/gw/gateway/" + method + "/v1", Query: q, Body: b}))
}

// get sends params in the query of a signed GET (3.8, 5.4 and 5.5 are GET in the document).
func (f *fixture) get(method string, params url.Values) result {
	f.t.Helper()
	q := url.Values{"access_token": {f.token}, "timestamp": {strconv.FormatInt(f.now.UnixMilli(), 10)}}
	for k, v := range params {
		q[k] = v
	}
	q.Set("sign", ump.Sign(q, nil, testSecret))
	return f.decode(f.p.Handle(Call{Verb: http.MethodGet, Path: "/gw/gateway/" + method + "/v1", Query: q}))
}

func (f *fixture) decode(r Reply) result {
	f.t.Helper()
	res := result{Reply: r}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	require.NoError(f.t, dec.Decode(&res.env), "body %s", r.Body)
	require.NoError(f.t, json.Unmarshal(r.Body, &res.raw))
	return res
}

// ok asserts success and returns the data decoded into T.
func ok[T any](t *testing.T, r result) T {
	t.Helper()
	require.Equal(t, true, r.env["success"], "answer %s", r.Body)
	require.Zero(t, r.Code)
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.raw.Data))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "data %s", r.raw.Data)
	return v
}

// failed asserts a failure with code, under either spelling of the field.
func failed(t *testing.T, r result, code int64) {
	t.Helper()
	require.Equal(t, false, r.env["success"], "answer %s", r.Body)
	got := r.env["error_code"]
	if got == nil {
		got = r.env["errorCode"]
	}
	require.Equal(t, json.Number(strconv.FormatInt(code, 10)), got, "answer %s", r.Body)
	require.Equal(t, code, r.Code)
}

func (f *fixture) member(phone string) string {
	f.t.Helper()
	id, err := f.p.AddMember(Member{Phone: phone})
	require.NoError(f.t, err)
	return id
}

func (f *fixture) change(openID, changeID, event string, score int64) result {
	return f.call("wk.user.event.score.change", map[string]any{
		"open_id": openID, "score": score, "out_biz_no": "biz-" + changeID, "order_amount": 10,
		"change_reason": "test", "change_event": event, "change_id": changeID,
	})
}

func (f *fixture) rollback(openID, statementID, changeID string, score int64) result {
	body := map[string]any{"open_id": openID, "change_id": changeID}
	if statementID != "" {
		body["statement_id"] = statementID
	}
	if score != 0 {
		body["rollback_score"] = score
	}
	return f.call("wk.user.event.score.rollback", body)
}

func TestEnvelopeShapesFollowEachMethodsExample(t *testing.T) {
	f := newFixture(t)
	add := f.call("wk.user.info.add", map[string]any{"project_id": "18756", "nickname": "张三", "phone": "15900947949"})
	require.Regexp(t, `^\{"success":true,"error_code":200,"error_message":"","data":"[0-9a-f]{32}"\}$`, string(add.Body))

	q := f.call("wk.user.info.query", map[string]any{"phone": "15900947949"})
	require.Regexp(t, `^\{"success":true,"data":\{.*\},"errorCode":null,"errorMessage":null,"pageSize":null,"pageNo":null,"totalCount":null\}$`, string(q.Body))
	m := ok[map[string]any](t, q)
	require.Equal(t, json.Number("1"), m["level_num"], "the example's spelling")
	require.Equal(t, "一级会员", m["level_name"])
	require.Equal(t, json.Number("300"), m["next_level_growth_value"])
	require.Equal(t, json.Number("18756"), m["project_id"])

	lv := f.call("wk.user.level.list", map[string]any{"page_no": 1, "page_size": 10})
	require.Regexp(t, `^\{"error_message":null,"data":\[.*\],"pageNo":1,"success":true,"pageSize":10,"error_code":null,"totalCount":7\}$`, string(lv.Body))
	levels := ok[[]levelItem](t, lv)
	require.Equal(t, levelItem{LevelName: "一级会员", LevelNumber: 1, ID: 76}, levels[0])
	require.Equal(t, levelItem{LevelName: "七级会员", LevelNumber: 7, ID: 85}, levels[6])

	nf := f.call("wk.user.info.query", map[string]any{"open_id": "nobody"})
	failed(t, nf, CodeMemberNotFound)
	require.Contains(t, string(nf.Body), `"errorMessage":"会员未绑定"`, "errors keep the method's spelling")
}

func TestMemberCreateRules(t *testing.T) {
	f := newFixture(t)
	body := map[string]any{"project_id": 18756, "nickname": "张三", "phone": "15900947949", "gender": "1", "birthday": "1994-09-28"}
	openID := ok[string](t, f.call("wk.user.info.add", body))
	failed(t, f.call("wk.user.info.add", body), CodePhoneRegistered)
	failed(t, f.call("wk.user.info.add", map[string]any{"project_id": "1", "nickname": "x"}), CodePhoneEmpty)
	failed(t, f.call("wk.user.info.add", map[string]any{"project_id": "1", "phone": "13800000001"}), CodeInvalidParams)
	failed(t, f.call("wk.user.info.add", map[string]any{"project_id": "1", "nickname": "x", "phone": "12345"}), CodeInvalidParams)
	failed(t, f.call("wk.user.info.add", map[string]any{"project_id": "1", "nickname": "x", "phone": "13800000001", "birthday": "28/09/1994"}), CodeInvalidParams)

	m := ok[map[string]any](t, f.call("wk.user.info.query", map[string]any{"open_id": openID}))
	require.Equal(t, "15900947949", m["phone"])
	require.Equal(t, json.Number(strconv.FormatInt(t0.UnixMilli(), 10)), m["register_time"])
	failed(t, f.call("wk.user.info.query", map[string]any{}), CodeOpenIDOrPhone)
	failed(t, f.call("wk.user.info.query", map[string]any{"phone": "13999999999"}), CodeMemberNotFound)
	failed(t, f.call("wk.user.info.add", `{"phone": [1]}`), CodeInvalidParams)
	failed(t, f.call("wk.user.info.add", `not json`), CodeInvalidParams)
}

func TestMemberCodeExpiresAfterTTL(t *testing.T) {
	f := newFixture(t)
	openID := f.member("13800000000")
	code := ok[string](t, f.call("wk.user.code.generate", map[string]any{"open_id": "13800000000"}))
	require.Regexp(t, `^[0-9]{20}$`, code)

	f.advance(59 * time.Second)
	m := ok[map[string]any](t, f.call("wk.user.code.parsing", map[string]any{"code": code}))
	require.Equal(t, openID, m["open_id"])

	f.advance(time.Second)
	failed(t, f.call("wk.user.code.parsing", map[string]any{"code": code}), CodeMemberCodeExpired)
	failed(t, f.call("wk.user.code.parsing", map[string]any{"code": "00000000000000000000"}), CodeMemberCodeExpired)
	failed(t, f.call("wk.user.code.parsing", map[string]any{}), CodeInvalidParams)
	failed(t, f.call("wk.user.code.generate", map[string]any{"open_id": "nobody"}), CodeMemberNotFound)
}

func TestScoreChangeDeduplicatesChangeID(t *testing.T) {
	f := newFixture(t)
	id := f.member("13800000000")
	st := ok[statementData](t, f.change(id, "c1", EventAdd, 100))
	require.Regexp(t, `^SP0[0-9]{17,}$`, st.StatementID)

	failed(t, f.change(id, "c1", EventAdd, 100), CodeDuplicate)
	failed(t, f.change(id, "c1", EventSubtract, 5), CodeDuplicate)
	require.Equal(t, int64(100), f.p.Balance(id), "points moved once")

	failed(t, f.change(id, "c2", EventSubtract, 101), CodeInsufficient)
	failed(t, f.change(id, "c2", "event_bonus", 1), CodeNoScoreRule)
	failed(t, f.change(id, "c2", EventAdd, 0), CodeInvalidParams)
	failed(t, f.change("nobody", "c2", EventAdd, 1), CodeMemberNotFound)
	failed(t, f.call("wk.user.event.score.change", map[string]any{"open_id": id, "score": 1, "change_event": EventAdd, "change_id": "c3"}),
		CodeInvalidParams) // out_biz_no, order_amount, change_reason are required too (the V2.1 table)
	ok[statementData](t, f.change("13800000000", "c2", EventSubtract, 100)) // the phone works as open_id
	require.Zero(t, f.p.Balance(id))
	require.NoError(t, f.p.Audit())
}

func TestRollbackRules(t *testing.T) {
	t.Run("statement_id and a new change_id reverse the statement, up to its points", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		got := ok[statementData](t, f.rollback(id, s1, "r1", 100))
		require.Equal(t, s1, got.StatementID, "the answer names the reversed statement, as the example does")
		require.Zero(t, f.p.Balance(id))
		failed(t, f.rollback(id, s1, "r2", 1), CodeInvalidParams) // nothing left to reverse: not 150002
		failed(t, f.rollback(id, s1, "r1", 1), CodeDuplicate)     // the rollback's change_id again
		require.Zero(t, f.p.Balance(id))
		ledger := f.p.Ledger(id)
		require.Len(t, ledger, 2)
		require.Equal(t, Statement{ID: ledger[1].ID, RecordID: ledger[1].RecordID, OpenID: id, ChangeID: "r1", Kind: KindRollback,
			Delta: -100, Desc: "积分回退", Time: t0, Reverses: s1}, ledger[1])
		require.Equal(t, []string{ledger[1].ID}, ledger[0].ReversedBy)
		require.Equal(t, int64(100), ledger[0].Reversed)
	})
	t.Run("several partial rollbacks of one statement up to the change's amount", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		ok[statementData](t, f.rollback(id, s1, "r1", 30))
		ok[statementData](t, f.rollback(id, s1, "r2", 50))
		failed(t, f.rollback(id, s1, "r3", 21), CodeInvalidParams) // 20 left
		require.Equal(t, int64(20), f.p.Balance(id))
		ok[statementData](t, f.rollback(id, s1, "r3", 20))
		require.Zero(t, f.p.Balance(id))
		ledger := f.p.Ledger(id)
		require.Len(t, ledger, 4)
		require.Equal(t, []string{ledger[1].ID, ledger[2].ID, ledger[3].ID}, ledger[0].ReversedBy)
		require.Equal(t, int64(100), ledger[0].Reversed)
		require.NoError(t, f.p.Audit())
	})
	t.Run("rollback_score is required and above zero", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		r := f.rollback(id, s1, "r1", 0)
		failed(t, r, CodeInvalidParams)
		require.Contains(t, string(r.Body), "rollback_score")
		failed(t, f.call("wk.user.event.score.rollback", map[string]any{"open_id": id, "statement_id": s1,
			"change_id": "r1", "rollback_score": -5}), CodeInvalidParams)
		failed(t, f.rollback(id, "", "c1", 0), CodeInvalidParams)
		require.Equal(t, int64(100), f.p.Balance(id))
		ok[statementData](t, f.rollback(id, s1, "r1", 100)) // r1 is still free: nothing was applied under it
	})
	t.Run("statement mode needs a change_id no change used", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		failed(t, f.rollback(id, s1, "c1", 100), CodeDuplicate)
		require.Equal(t, int64(100), f.p.Balance(id))
	})
	t.Run("change_id alone reverses the change made with it", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		ok[statementData](t, f.change(id, "c1", EventAdd, 30))
		s2 := ok[statementData](t, f.change(id, "c2", EventSubtract, 10)).StatementID
		failed(t, f.rollback(id, "", "c2", 11), CodeInvalidParams) // more than the change moved
		got := ok[statementData](t, f.rollback(id, "", "c2", 10))
		require.Equal(t, s2, got.StatementID)
		require.Equal(t, int64(30), f.p.Balance(id), "a reversed subtraction gives the points back")
		failed(t, f.rollback(id, "", "c2", 10), CodeDuplicate)    // a repeated resolution is definite too
		failed(t, f.rollback(id, s2, "r9", 1), CodeInvalidParams) // and the statement is done
		require.Equal(t, int64(30), f.p.Balance(id))
	})
	t.Run("change_id alone with no such change is 150004 and leaves the id free", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		failed(t, f.rollback(id, "", "never", 5), CodeStatementNotFound)
		failed(t, f.rollback(id, "", "never", 5), CodeStatementNotFound)
		ok[statementData](t, f.change(id, "never", EventAdd, 5))
		require.Equal(t, int64(5), f.p.Balance(id))
	})
	t.Run("another member's statement is not found", func(t *testing.T) {
		f := newFixture(t)
		a, b := f.member("13800000000"), f.member("13800000001")
		s1 := ok[statementData](t, f.change(a, "c1", EventAdd, 100)).StatementID
		failed(t, f.rollback(b, s1, "r1", 100), CodeStatementNotFound)
		failed(t, f.rollback(b, "", "c1", 100), CodeStatementNotFound)
		failed(t, f.rollback(a, "SP0nothing", "r1", 100), CodeStatementNotFound)
		require.Equal(t, int64(100), f.p.Balance(a))
	})
	t.Run("rollback_score reverses part; more than the statement is 1001", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		failed(t, f.rollback(id, s1, "r1", 101), CodeInvalidParams)
		ok[statementData](t, f.rollback(id, s1, "r2", 50))
		require.Equal(t, int64(50), f.p.Balance(id))
	})
	t.Run("reversing points already spent is 150003", func(t *testing.T) {
		f := newFixture(t)
		id := f.member("13800000000")
		s1 := ok[statementData](t, f.change(id, "c1", EventAdd, 100)).StatementID
		ok[statementData](t, f.change(id, "c2", EventSubtract, 60))
		failed(t, f.rollback(id, s1, "r1", 100), CodeInsufficient)
		require.Equal(t, int64(40), f.p.Balance(id))
		require.NoError(t, f.p.Audit())
	})
}

// TestIntegersStayWithinInt32: the document types scores, points and counts
// Integer (a Java int). A value outside int32, or a change that would take
// a balance or growth value outside it, is refused, never wrapped.
func TestIntegersStayWithinInt32(t *testing.T) {
	f := newFixture(t)
	id := f.member("13800000000")
	r := f.change(id, "c1", EventAdd, math.MaxInt32+1)
	failed(t, r, CodeInvalidParams)
	require.Contains(t, string(r.Body), "score")
	ok[statementData](t, f.change(id, "c2", EventAdd, math.MaxInt32))
	failed(t, f.change(id, "c3", EventAdd, 1), CodeInvalidParams) // the balance would overflow
	require.Equal(t, int64(math.MaxInt32), f.p.Balance(id))
	s := ok[statementData](t, f.change(id, "c4", EventSubtract, 10)).StatementID
	ok[statementData](t, f.change(id, "c5", EventAdd, 10))
	failed(t, f.rollback(id, s, "r1", 10), CodeInvalidParams) // giving the 10 back would overflow
	require.Equal(t, int64(math.MaxInt32), f.p.Balance(id))

	b := f.member("13800000001")
	consume := func(no string, score int64) result {
		return f.call("wk.user.consume.order", map[string]any{"open_id": b, "consume_date": "2024-05-01 09:00:00",
			"order_amount": 1, "order_no": no, "order_score": score})
	}
	failed(t, consume("S0", math.MaxInt32+1), CodeInvalidParams)
	ok[map[string]any](t, consume("S1", math.MaxInt32-5))
	failed(t, consume("S2", 6), CodeInvalidParams)
	failed(t, f.call("wk.user.score.record", map[string]any{"open_id": b, "score_type": 0, "pageNo": 1, "pageSize": math.MaxInt32 + 1}),
		CodeInvalidParams)
	require.Error(t, f.p.SetBalance(b, math.MaxInt32+1))
	require.Error(t, f.p.SetGrowth(b, math.MinInt32-1))
	_, err := f.p.AddMember(Member{Phone: "13800000002", Score: math.MaxInt32 + 1})
	require.Error(t, err)
	require.NoError(t, f.p.Audit())
}

func TestScoreRecordsNewestFirstWithFilterAndPaging(t *testing.T) {
	f := newFixture(t)
	id := f.member("13800000000")
	for i, d := range []int64{10, 20, -5, 30} {
		ev := EventAdd
		if d < 0 {
			ev, d = EventSubtract, -d
		}
		ok[statementData](t, f.change(id, "c"+strconv.Itoa(i), ev, d))
		f.advance(time.Minute)
	}
	// The document's own example sends the numbers as strings.
	r := f.call("wk.user.score.record", `{"open_id": "`+id+`", "score_type": "0", "pageSize": "2", "pageNo": "1"}`)
	rows := ok[[]recordItem](t, r)
	require.Equal(t, []int64{30, -5}, []int64{rows[0].Amount, rows[1].Amount})
	require.Equal(t, "2024-05-01 10:03:00", time.Time(rows[0].CreateTime).In(wire.Beijing).Format(wire.DateTimeLayout))
	require.Equal(t, json.Number("4"), r.env["totalCount"])
	require.Equal(t, json.Number("2"), r.env["pageSize"])
	require.Equal(t, json.Number("200"), r.env["error_code"])

	rows = ok[[]recordItem](t, f.call("wk.user.score.record", map[string]any{"open_id": id, "score_type": 0, "pageSize": 2, "pageNo": 2}))
	require.Equal(t, []int64{20, 10}, []int64{rows[0].Amount, rows[1].Amount})
	rows = ok[[]recordItem](t, f.call("wk.user.score.record", map[string]any{"open_id": id, "score_type": 2, "pageSize": 10, "pageNo": 1}))
	require.Len(t, rows, 1)
	require.Equal(t, int64(-5), rows[0].Amount)
	rows = ok[[]recordItem](t, f.call("wk.user.score.record", map[string]any{"open_id": id, "score_type": 1, "pageSize": 10, "pageNo": 1}))
	require.Len(t, rows, 3)
	rows = ok[[]recordItem](t, f.call("wk.user.score.record", map[string]any{"open_id": id, "pageSize": 10, "pageNo": 9}))
	require.Empty(t, rows)
	failed(t, f.call("wk.user.score.record", map[string]any{"open_id": id, "score_type": 3}), CodeInvalidParams)
}

func TestOrders(t *testing.T) {
	f := newFixture(t)
	id := f.member("17600000000")
	consume := map[string]any{"phone": "17600000000", "consume_date": "2021-01-29 00:00:00", "order_amount": 1000.4,
		"order_no": "66239d2848de", "order_score": 100, "material_info": `[{"material_name":"硬盒经典双喜牌香烟"}]`}
	d := ok[map[string]any](t, f.call("wk.user.consume.order", consume))
	require.Regexp(t, `^[0-9]+$`, d["statement_id"], "a number in a string, like the example's \"134\"")
	require.Equal(t, json.Number("100"), d["order_score"])
	require.NotEmpty(t, d["order_id"])
	failed(t, f.call("wk.user.consume.order", consume), CodeDuplicate)
	require.Equal(t, int64(100), f.p.Balance(id))
	m, _ := f.p.Member(id)
	require.Equal(t, int64(100), m.Growth)

	refund := map[string]any{"open_id": id, "consume_date": "2021-08-24 00:00:00", "order_amount": 500,
		"order_no": "refund_66239d2848de", "parent_order_no": "nope", "order_score": 40}
	failed(t, f.call("wk.user.refund.order", refund), CodeOrderNotFound)
	refund["parent_order_no"] = "66239d2848de"
	d = ok[map[string]any](t, f.call("wk.user.refund.order", refund))
	require.Equal(t, json.Number("40"), d["order_score"])
	failed(t, f.call("wk.user.refund.order", refund), CodeDuplicate)
	refund["order_no"], refund["order_score"] = "refund-2", 61
	failed(t, f.call("wk.user.refund.order", refund), CodeInvalidParams)
	require.Equal(t, int64(60), f.p.Balance(id))

	failed(t, f.call("wk.user.consume.order", map[string]any{"phone": "123", "order_no": "x"}), CodeInvalidPhone)
	failed(t, f.call("wk.user.consume.order", map[string]any{"order_no": "x"}), CodeOpenIDOrPhone)
	failed(t, f.call("wk.user.consume.order", map[string]any{"open_id": id, "order_no": "x"}), CodeInvalidParams)
	failed(t, f.call("wk.user.consume.order", map[string]any{"open_id": id, "order_no": "x", "order_score": 1,
		"order_amount": 1, "consume_date": "yesterday"}), CodeInvalidParams)
	require.NoError(t, f.p.Audit())
}

func TestCoupons(t *testing.T) {
	f := newFixture(t)
	a := f.member("18023016181")
	b := f.member("13800000001")
	// The document's example, with its JSON-in-a-string syntax fixed.
	tpl := `{"suit_store_type": 1, "stores": "[{\"name\":\"唐家湾\",\"id\":1}]", "name": "vnjohn1629772939065",
		"end_time": 1830204939084, "coupon_category": 0, "begin_time": 1629859339082, "rules": "满200元才能使用",
		"third_coupon_id": 1629772939065, "discount_fee": 10, "coupon_type": 1}`
	tplID := ok[int64](t, f.call("wk.coupon.template.add", tpl))
	require.Positive(t, tplID)
	failed(t, f.call("wk.coupon.template.add", tpl), CodeCouponCreate)
	failed(t, f.call("wk.coupon.template.add", map[string]any{"third_coupon_id": "x", "coupon_category": 2, "name": "n",
		"discount_fee": 100, "coupon_type": 0, "fixed_term": 10, "rules": "r"}), CodeInvalidParams) // a discount above 99
	failed(t, f.call("wk.coupon.template.add", map[string]any{"third_coupon_id": "x", "coupon_category": 0, "name": "n",
		"discount_fee": 10, "coupon_type": 1, "rules": "r"}), CodeInvalidParams) // fixed period without times

	give := `{"number": 1, "coupon_set": "[{\"open_id\":\"18023016181\",\"params_type\":\"2\",\"coupon_number\":\"29b81c45e83b49f5a71b95555aef6d00\"}, {\"open_id\":\"` +
		b + `\",\"params_type\":\"1\",\"coupon_number\":\"6c69f766bddf4cf5923e06eea6bdccfb\"}]", "create_time": 1714528800000, "third_coupon_id": "1629772939065"}`
	r := f.call("wk.coupon.give", give)
	type given struct {
		Code   json.Number `json:"code"`
		OpenID string      `json:"open_id"`
	}
	items := ok[[]given](t, r)
	require.Len(t, items, 2)
	require.Equal(t, a, items[0].OpenID, "the member's open_id, though the entry named a phone")
	require.Equal(t, b, items[1].OpenID)
	code, err := strconv.ParseInt(string(items[0].Code), 10, 64)
	require.NoError(t, err)
	require.Greater(t, code, int64(1)<<53, "19 digits, beyond float64's exact integers")
	require.Len(t, string(items[0].Code), 19)
	require.Equal(t, code, f.p.Coupons(a)[0].Code)
	failed(t, f.call("wk.coupon.give", give), CodeCouponCreate)
	require.Len(t, f.p.Coupons(a), 1, "all or nothing")

	status := map[string]any{"third_coupon_code": "6c69f766bddf4cf5923e06eea6bdccfb", "open_id": b, "status": 1}
	require.Equal(t, "6c69f766bddf4cf5923e06eea6bdccfb", ok[string](t, f.call("wk.coupon.sync.status", status)))
	ok[string](t, f.call("wk.coupon.sync.status", status)) // idempotent
	status["open_id"] = a
	failed(t, f.call("wk.coupon.sync.status", status), CodeCouponNotFound)

	verify := map[string]any{"open_id": "18023016181", "order_no": "1231", "third_coupon_codes": "29b81c45e83b49f5a71b95555aef6d00",
		"verification_time": t0.UnixMilli(), "store_id": 12}
	v := f.call("wk.coupon.verification", verify)
	require.JSONEq(t, `{"error_message":null,"data":null,"success":true,"error_code":null}`, string(v.Body))
	failed(t, f.call("wk.coupon.verification", verify), CodeCouponStatus)
	verify["third_coupon_codes"] = "unknown, 29b81c45e83b49f5a71b95555aef6d00"
	failed(t, f.call("wk.coupon.verification", verify), CodeCouponNotFound)
	require.Equal(t, int64(CouponUsed), f.p.Coupons(a)[0].Status)
	require.Equal(t, "1231", f.p.Coupons(a)[0].UseOrderNo)

	list := f.call("wk.coupon.user.list", map[string]any{"open_id": a, "page_no": 1, "page_size": "15"})
	rows := ok[[]map[string]any](t, list)
	require.Len(t, rows, 1)
	require.Equal(t, json.Number(strconv.FormatInt(code, 10)), rows[0]["coupon_code"])
	require.Equal(t, "1231", rows[0]["use_order_no"])
	require.Equal(t, `[{"name":"唐家湾","id":1}]`, rows[0]["stores"])
	require.Equal(t, json.Number("15"), list.env["pageSize"])
	require.Empty(t, ok[[]map[string]any](t, f.call("wk.coupon.user.list", map[string]any{"open_id": a, "status": 1})))
	require.Len(t, ok[[]map[string]any](t, f.call("wk.coupon.user.list", map[string]any{"open_id": a, "status": 2})), 1)

	m := ok[map[string]any](t, f.call("wk.user.info.query", map[string]any{"open_id": b}))
	require.Equal(t, json.Number("1"), m["coupon_num"])
}

// empty asserts the document's {} answer of 6.1 and 6.2.
func empty(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, "{}", string(r.Body))
	require.Zero(t, r.Code)
}

func TestSMS(t *testing.T) {
	f := newFixture(t)
	for range 10 {
		empty(t, f.call("wk.sms.verify.send", map[string]any{"target": "13888888888"}))
	}
	failed(t, f.call("wk.sms.verify.send", map[string]any{"target": "13888888888"}), CodeSMSDailyLimit)
	failed(t, f.call("wk.sms.verify.send", map[string]any{}), CodeSMSTargetEmpty)
	failed(t, f.call("wk.sms.verify.send", map[string]any{"target": "888"}), CodeSMSInvalidPhone)

	code, found := f.p.LastSMSCode("13888888888")
	require.True(t, found)
	require.Regexp(t, `^[0-9]{6}$`, code)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	failed(t, f.call("wk.sms.verify.judge", map[string]any{"phone": "13888888888", "verify_code": wrong}), CodeSMSWrongCode)
	empty(t, f.call("wk.sms.verify.judge", map[string]any{"phone": "13888888888", "verify_code": code}))
	failed(t, f.call("wk.sms.verify.judge", map[string]any{"phone": "13888888888", "verify_code": code}), CodeSMSWrongCode)

	f.advance(24 * time.Hour) // a new Beijing day
	f.token = f.p.IssueToken().AccessToken
	empty(t, f.call("wk.sms.verify.send", map[string]any{"target": "13888888888"}))
	code, _ = f.p.LastSMSCode("13888888888")
	f.advance(5 * time.Minute)
	failed(t, f.call("wk.sms.verify.judge", map[string]any{"phone": "13888888888", "verify_code": code}), CodeSMSWrongCode)
}

func TestSMSEnvelopeOption(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.SMSEnvelope = true })
	r := f.call("wk.sms.verify.send", map[string]any{"target": "13888888888"})
	require.Equal(t, `{"success":true,"error_code":200,"error_message":"","data":null}`, string(r.Body))
	failed(t, f.call("wk.sms.verify.send", map[string]any{}), CodeSMSTargetEmpty)
}

// TestPagingQuirks: a capped page size (served 3, pageSize echoing the 100
// asked), pageNo ignored, totalCount left out.
func TestPagingQuirks(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PageSizeCap = 3 })
	var got []int64
	for no := 1; no <= 3; no++ {
		r := f.call("wk.user.level.list", map[string]any{"page_no": no, "page_size": 100})
		require.Equal(t, json.Number("100"), r.env["pageSize"], "the size asked is echoed")
		require.Equal(t, json.Number("7"), r.env["totalCount"])
		for _, l := range ok[[]levelItem](t, r) {
			got = append(got, l.LevelNumber)
		}
	}
	require.Equal(t, []int64{1, 2, 3, 4, 5, 6, 7}, got, "pages cut at the served size")

	f = newFixtureWith(t, func(c *Config) { c.IgnorePageNo, c.NoTotalCount = true, true })
	r := f.call("wk.user.level.list", map[string]any{"page_no": 2, "page_size": 3})
	require.Equal(t, int64(1), ok[[]levelItem](t, r)[0].LevelNumber, "page 2 asked, page 1 served")
	require.Equal(t, json.Number("2"), r.env["pageNo"])
	require.NotContains(t, r.env, "totalCount")
	id := f.member("13800000000")
	for _, m := range []string{"wk.user.score.record", "wk.coupon.user.list"} {
		r := f.call(m, map[string]any{"open_id": id, "score_type": 0})
		require.NotContains(t, r.env, "totalCount", m)
		require.Contains(t, r.env, "pageNo", m)
	}
}

func TestGETTakesBusinessParametersFromTheSignedQuery(t *testing.T) {
	f := newFixture(t)
	r := f.get("wk.user.level.list", url.Values{"page_no": {"2"}, "page_size": {"3"}})
	levels := ok[[]levelItem](t, r)
	require.Equal(t, []int64{4, 5, 6}, []int64{levels[0].LevelNumber, levels[1].LevelNumber, levels[2].LevelNumber})
	require.Equal(t, json.Number("2"), r.env["pageNo"])

	id := f.member("13800000000")
	list := f.get("wk.coupon.user.list", url.Values{"open_id": {id}})
	require.Empty(t, ok[[]any](t, list))
	require.Equal(t, json.Number("15"), list.env["pageSize"], "5.5's default page size")
}

func TestGatewayRefusals(t *testing.T) {
	f := newFixture(t)
	r := f.decode(f.p.Handle(Call{Verb: http.MethodPost, Path: "/gw/gateway/wk.no.such/v1"}))
	require.Equal(t, http.StatusNotFound, r.Status)
	failed(t, r, CodeUnknownMethod)
	r = f.decode(f.p.Handle(Call{Verb: http.MethodPut, Path: "/gw/gateway/wk.user.level.list/v1"}))
	require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	q := url.Values{"access_token": {f.token, f.token}, "timestamp": {strconv.FormatInt(t0.UnixMilli(), 10)}}
	failed(t, f.decode(f.p.Handle(Call{Verb: http.MethodPost, Path: "/gw/gateway/wk.user.level.list/v1", Query: q})), CodeInvalidParams)
}

// TestTimestampIsCheckedAgainstArrival: a call applied late (umptest's
// LateApply) is judged by when it arrived, not by when it is applied.
func TestTimestampIsCheckedAgainstArrival(t *testing.T) {
	f := newFixture(t)
	q := url.Values{"access_token": {f.token}, "timestamp": {strconv.FormatInt(f.now.UnixMilli(), 10)}}
	q.Set("sign", signature(q, nil, testSecret))
	arrived := f.now
	f.advance(time.Minute)
	c := Call{Verb: http.MethodPost, Path: "/gw/gateway/wk.user.level.list/v1", Query: q, Received: arrived}
	ok[json.RawMessage](t, f.decode(f.p.Handle(c)))
	c.Received = time.Time{}
	failed(t, f.decode(f.p.Handle(c)), CodeStaleTimestamp)
}

// TestWriteKey names the unique key of each keyed write.
func TestWriteKey(t *testing.T) {
	for _, tc := range []struct{ method, body, want string }{
		{"wk.user.event.score.change", `{"change_id":"c1"}`, "change_id:c1"},
		{"wk.user.event.score.rollback", `{"change_id":"c1"}`, "rollback change_id:c1"},
		{"wk.user.consume.order", `{"order_no":"S1"}`, "order_no:S1"},
		{"wk.user.refund.order", `{"order_no":"S1","change_id":"x"}`, "order_no:S1"},
		{"wk.user.info.query", `{"change_id":"c1"}`, ""},
		{"wk.user.event.score.change", `{"change_id":""}`, ""},
		{"wk.user.event.score.change", `not json`, ""},
	} {
		require.Equal(t, tc.want, WriteKey(Call{Method: tc.method, Body: []byte(tc.body)}), tc.method+" "+tc.body)
	}
}

// TestAuthenticated: a call that passed timestamp, credential and sign is
// authenticated, whatever the platform then answers; Authentic says so
// without running it.
func TestAuthenticated(t *testing.T) {
	f := newFixture(t)
	refused := f.call("wk.user.info.query", map[string]any{"open_id": "nobody"})
	failed(t, refused, CodeMemberNotFound)
	require.True(t, refused.Authenticated, "a business refusal is past the gate")
	require.True(t, f.call("wk.user.level.list", map[string]any{}).Authenticated)

	q := url.Values{"access_token": {f.token}, "timestamp": {strconv.FormatInt(f.now.UnixMilli(), 10)}}
	q.Set("sign", signature(q, nil, "wrong secret"))
	c := Call{Verb: http.MethodPost, Path: "/gw/gateway/wk.user.level.list/v1", Query: q}
	require.False(t, f.p.Handle(c).Authenticated)
	require.False(t, f.p.Authentic(c))
	q.Set("sign", signature(q, nil, testSecret))
	require.True(t, f.p.Authentic(c))
	q.Set("access_token", "unknown")
	require.False(t, f.p.Authentic(c))
	require.False(t, f.p.Authentic(Call{Verb: http.MethodPost, Path: "/nowhere", Query: q}))
}
