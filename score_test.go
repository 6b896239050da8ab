package ump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/wire"
)

// sequence answers the n-th request with handlers[n], repeating the last.
func sequence(handlers ...http.HandlerFunc) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		handlers[min(i, len(handlers)-1)](w, r)
	}
}

func answerWith(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

func validChange() *ScoreChangeRequest {
	return &ScoreChangeRequest{
		OpenID: "25c56912e05847c0b09f03ca7e52b796", Score: 100, OutBizNo: "66239d2848de",
		OrderAmount: Yuan(1000, 40), ChangeReason: "兑换权益", ChangeEvent: EventAdd,
		ChangeID: "604becde4a097343239d2848de",
	}
}

func TestScoreChangeSendsTheTableFields(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", fixture(t, "score-change.json"))

	res, err := c.Score.Change(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, "SP016244316351097643", res.StatementID)

	require.Len(t, g.calls(), 1)
	require.Equal(t, `{"open_id":"25c56912e05847c0b09f03ca7e52b796","score":100,"out_biz_no":"66239d2848de",`+
		`"order_amount":1000.4,"change_reason":"兑换权益","change_event":"event_add","change_id":"604becde4a097343239d2848de"}`,
		string(g.calls()[0].Body))
	body := g.lastBody()
	require.Equal(t, json.Number("100"), body["score"])
	require.Equal(t, json.Number("1000.4"), body["order_amount"])
}

func TestScoreChangeValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		req    *ScoreChangeRequest
		fields []string
	}{
		"nil request":    {nil, []string{"open_id", "score", "out_biz_no", "change_reason", "change_event", "change_id"}},
		"empty":          {&ScoreChangeRequest{}, []string{"open_id", "score", "out_biz_no", "change_reason", "change_event", "change_id"}},
		"negative score": {func() *ScoreChangeRequest { r := validChange(); r.Score = -1; return r }(), []string{"score"}},
		"blank ids": {func() *ScoreChangeRequest { r := validChange(); r.ChangeID, r.OutBizNo = " ", "\t"; return r }(),
			[]string{"out_biz_no", "change_id"}},
		"negative amount": {func() *ScoreChangeRequest { r := validChange(); r.OrderAmount = -1; return r }(), []string{"order_amount"}},
	} {
		t.Run(name, func(t *testing.T) {
			c, g := setup(t)
			_, err := c.Score.Change(context.Background(), tc.req)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, "wk.user.event.score.change", verr.Method)
			var got []string
			for _, f := range verr.Fields {
				got = append(got, f.Field)
			}
			require.Equal(t, tc.fields, got)
			require.Empty(t, g.calls(), "nothing may be sent")
		})
	}
}

// changeBody decodes a recorded score change or rollback body.
func changeBody(t *testing.T, r recorded) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m))
	return m
}

// The document's flow (3.4): an unanswered change is rolled back by its
// change_id alone, then sent again under a new change_id.
func TestScoreChangeResolvesAnUnknownOutcome(t *testing.T) {
	const changeID = "604becde4a097343239d2848de"
	for _, tc := range []struct {
		name     string
		rollback string // the gateway's answer to the rollback by change_id
	}{
		{"the change had applied: reversed", fixture(t, "score-rollback.json")},
		{"already reversed (150002)", `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`},
		{"no such change (3.4's example, 1005)", fixture(t, "score-rollback-not-found.json")},
		{"no such change (150004)", `{"success":false,"error_code":150004,"error_message":"积分流水不存在","data":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			g.handle("wk.user.event.score.change", sequence(hangUp(t), answerWith(fixture(t, "score-change.json"))))
			g.reply("wk.user.event.score.rollback", tc.rollback)

			res, err := c.Score.Change(context.Background(), validChange())
			require.NoError(t, err)
			require.Equal(t, "SP016244316351097643", res.StatementID)
			require.False(t, res.AlreadyApplied)
			require.Regexp(t, `^[0-9a-f]{26}$`, res.ChangeID)
			require.NotEqual(t, changeID, res.ChangeID)

			calls := g.calls()
			require.Len(t, calls, 3)
			require.Equal(t, "wk.user.event.score.change", calls[0].Method)
			require.Equal(t, "wk.user.event.score.rollback", calls[1].Method)
			require.Equal(t, map[string]any{"open_id": "25c56912e05847c0b09f03ca7e52b796", "rollback_score": 100.0,
				"change_id": changeID}, changeBody(t, calls[1]), "rollback by change_id alone, no statement_id")
			require.Equal(t, "wk.user.event.score.change", calls[2].Method)
			first, again := changeBody(t, calls[0]), changeBody(t, calls[2])
			require.Equal(t, res.ChangeID, again["change_id"])
			delete(first, "change_id")
			delete(again, "change_id")
			require.Equal(t, first, again, "the change is sent again unaltered but for change_id")
		})
	}
}

// The change_id a resolution sends is derived from the unknown one, so that a
// resolution run twice sends the same ids.
func TestScoreResolveIsRepeatable(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.rollback", fixture(t, "score-rollback-not-found.json"))
	g.reply("wk.user.event.score.change", fixture(t, "score-change.json"))
	a, err := c.Score.Resolve(context.Background(), validChange())
	require.NoError(t, err)
	b, err := c.Score.Resolve(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, a.ChangeID, b.ChangeID)
	require.NotEqual(t, validChange().ChangeID, a.ChangeID)
}

func TestScoreChangeUnresolvedWithinTheBudget(t *testing.T) {
	c, g := setup(t) // MaxAttempts 3
	g.handle("wk.user.event.score.change", hangUp(t))
	g.reply("wk.user.event.score.rollback", fixture(t, "score-rollback-not-found.json"))

	_, err := c.Score.Change(context.Background(), validChange())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	var unresolved *ScoreChangeUnresolvedError
	require.ErrorAs(t, err, &unresolved)
	var unknown *OutcomeUnknownError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, "wk.user.event.score.change", unknown.Method)

	var sent []string
	for _, r := range g.calls() {
		if r.Method == "wk.user.event.score.change" {
			sent = append(sent, changeBody(t, r)["change_id"].(string))
		}
	}
	require.Len(t, sent, 3, "three sends of the change in all")
	last := sent[2]
	require.Equal(t, last, unresolved.Request.ChangeID, "the change_id of unknown outcome is the last one sent")
	require.Equal(t, "change_id="+last, unknown.Key)
	require.Contains(t, err.Error(), last)
	require.Contains(t, err.Error(), "Score.Resolve")
	want := *validChange()
	want.ChangeID = last
	require.Equal(t, want, unresolved.Request)
	require.Len(t, g.calls(), 5, "change, rollback, change, rollback, change")
}

func TestScoreChangeNotSentIsNotUnknown(t *testing.T) {
	c, g := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Score.Change(ctx, validChange())
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Empty(t, g.calls())
}

func TestScoreChangeDuplicateMeansApplied(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)
	res, err := c.Score.Change(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, &ScoreChangeResult{ChangeID: validChange().ChangeID, AlreadyApplied: true}, res)
	require.Len(t, g.calls(), 1)
}

func TestScoreChangeBusyIsRepeatedUnderTheSameChangeID(t *testing.T) {
	c, g := setup(t)
	busy := `{"success":false,"error_code":500,"error_message":"系统繁忙","data":null}`
	g.handle("wk.user.event.score.change", sequence(answerWith(busy), answerWith(fixture(t, "score-change.json"))))
	res, err := c.Score.Change(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, validChange().ChangeID, res.ChangeID)
	calls := g.calls()
	require.Len(t, calls, 2)
	require.Equal(t, calls[0].Body, calls[1].Body)
}

func TestScoreChangeDefiniteFailuresAreNotRepeated(t *testing.T) {
	for _, tc := range []struct {
		answer string
		is     error
	}{
		{`{"success":false,"error_code":150003,"error_message":"积分不足","data":null}`, ErrInsufficientPoints},
		{`{"success":false,"error_code":150001,"error_message":"未配置积分规则","data":null}`, ErrNoScoreRule},
	} {
		c, g := setup(t)
		g.reply("wk.user.event.score.change", tc.answer)
		_, err := c.Score.Change(context.Background(), validChange())
		require.ErrorIs(t, err, tc.is)
		require.NotErrorIs(t, err, ErrOutcomeUnknown)
		require.Len(t, g.calls(), 1)
	}
}

func TestNewChangeID(t *testing.T) {
	hex26 := regexp.MustCompile(`^[0-9a-f]{26}$`)
	a, b := NewChangeID(), NewChangeID()
	require.Regexp(t, hex26, a)
	require.Regexp(t, hex26, b)
	require.NotEqual(t, a, b)
}

func TestScoreRollbackAfterAnsweredChange(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.rollback", fixture(t, "score-rollback.json"))

	res, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{
		OpenID: "25c56912e05847c0b09f03ca7e52b796", StatementID: "SP016244316351097643",
		RollbackScore: 50, ChangeID: "604becde4a097343239d2848de",
	})
	require.NoError(t, err)
	require.Equal(t, "SP016244316351097643", res.StatementID)
	require.Equal(t, `{"open_id":"25c56912e05847c0b09f03ca7e52b796","statement_id":"SP016244316351097643",`+
		`"rollback_score":50,"change_id":"604becde4a097343239d2848de"}`, string(g.calls()[0].Body))
}

// The outcome-unknown flow: change_id alone, and the document's own "not
// found" answer is a definite APIError with the code and message verbatim.
func TestScoreRollbackByChangeIDAlone(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.rollback", fixture(t, "score-rollback-not-found.json"))

	_, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{
		OpenID: "o1", RollbackScore: 50, ChangeID: "604becde4a097343239d2848de",
	})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, int64(1005), apiErr.Code)
	require.Equal(t, "未查询到该订单", apiErr.Message)
	require.Len(t, g.calls(), 1)
	body := g.lastBody()
	require.NotContains(t, body, "statement_id")
	require.Equal(t, json.Number("50"), body["rollback_score"])
}

// The gateway deduplicates rollbacks on change_id, so an ambiguous failure is
// repeated, with the same bytes.
func TestScoreRollbackIsRepeatedAfterAmbiguousFailure(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.event.score.rollback", sequence(hangUp(t), answerWith(fixture(t, "score-rollback.json"))))

	res, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{OpenID: "o1", RollbackScore: 5, ChangeID: "c1"})
	require.NoError(t, err)
	require.Equal(t, "SP016244316351097643", res.StatementID)
	calls := g.calls()
	require.Len(t, calls, 2)
	require.Equal(t, calls[0].Body, calls[1].Body)
}

// The rollback table types data as Boolean.
func TestScoreRollbackAcceptsBooleanData(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.rollback", `{"success":true,"error_code":200,"data":true}`)
	res, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{OpenID: "o1", RollbackScore: 5, ChangeID: "c1"})
	require.NoError(t, err)
	require.Equal(t, "", res.StatementID)
}

func TestScoreRollbackValidation(t *testing.T) {
	c, g := setup(t)
	_, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{RollbackScore: 0})
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []FieldError{
		{"open_id", "required"}, {"rollback_score", "must be above zero"}, {"change_id", "required"},
	}, verr.Fields)
	require.Empty(t, g.calls())
}

func TestScoreRecordsDecodesTheDocumentExample(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.score.record", fixture(t, "score-record.json"))

	p, err := c.Score.Records(context.Background(), &ScoreRecordsRequest{OpenID: "xxxx", ScoreType: ScoreIncome})
	require.NoError(t, err)
	require.Equal(t, `{"open_id":"xxxx","score_type":1,"pageSize":10,"pageNo":1}`, string(g.calls()[0].Body),
		"numbers, not the example's strings; defaults page 1, size 10")
	want := time.Date(2021, 6, 21, 14, 35, 29, 0, wire.Beijing)
	require.Len(t, p.Items, 1)
	r := p.Items[0]
	require.Equal(t, int64(1), r.ID)
	require.Equal(t, int64(30), r.Amount)
	require.Equal(t, "消费增加积分", r.Desc)
	require.True(t, r.CreateTime.Equal(want), "createTime %v", r.CreateTime)
	require.True(t, r.UpdateTime.Equal(want), "updateTime %v", r.UpdateTime)
	require.Equal(t, "2021-06-21 06:35:29", r.CreateTime.UTC().Format(wire.DateTimeLayout), "Beijing is UTC+8")
	require.Equal(t, 1, p.PageNo)
	require.Equal(t, 10, p.PageSize)
	require.Equal(t, 1, p.TotalCount)
}

func TestScoreRecordsSendsPagingAsNumbers(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.score.record", `{"success":true,"error_code":200,"data":[`+
		`{"id":6812728783716537794,"amount":"9223372036854775807","desc":"x","createTime":"2021-06-21 14:35:29","updateTime":null}],`+
		`"pageNo":"3","pageSize":"100","totalCount":"9007199254740993"}`)
	p, err := c.Score.Records(context.Background(), &ScoreRecordsRequest{
		OpenID: "o1", ScoreType: ScoreExpense, PageRequest: PageRequest{PageNo: 3, PageSize: 100},
	})
	require.NoError(t, err)
	require.Equal(t, `{"open_id":"o1","score_type":2,"pageSize":100,"pageNo":3}`, string(g.calls()[0].Body))
	require.Equal(t, int64(6812728783716537794), p.Items[0].ID)
	require.Equal(t, int64(9223372036854775807), p.Items[0].Amount)
	require.True(t, p.Items[0].UpdateTime.IsZero())
	require.Equal(t, int64(9007199254740993), int64(p.TotalCount))
	require.Equal(t, 3, p.PageNo)
}

// An answer without paging fields reports the page that was asked for.
func TestScoreRecordsPagingFallsBackToTheRequest(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.score.record", `{"success":true,"error_code":200,"data":[]}`)
	p, err := c.Score.Records(context.Background(), &ScoreRecordsRequest{OpenID: "o1", PageRequest: PageRequest{PageNo: 4}})
	require.NoError(t, err)
	require.Equal(t, &ScoreRecordPage{Items: []ScoreRecord{}, PageNo: 4, PageSize: 10}, p)
}

func TestScoreRecordsValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		req   ScoreRecordsRequest
		field string
	}{
		"no open_id":     {ScoreRecordsRequest{}, "open_id"},
		"score_type 3":   {ScoreRecordsRequest{OpenID: "o", ScoreType: 3}, "score_type"},
		"score_type -1":  {ScoreRecordsRequest{OpenID: "o", ScoreType: -1}, "score_type"},
		"page size 101":  {ScoreRecordsRequest{OpenID: "o", PageRequest: PageRequest{PageSize: 101}}, "pageSize"},
		"page size -1":   {ScoreRecordsRequest{OpenID: "o", PageRequest: PageRequest{PageSize: -1}}, "pageSize"},
		"page number -1": {ScoreRecordsRequest{OpenID: "o", PageRequest: PageRequest{PageNo: -1}}, "pageNo"},
	} {
		t.Run(name, func(t *testing.T) {
			c, g := setup(t)
			_, err := c.Score.Records(context.Background(), &tc.req)
			var verr *ValidationError
			require.ErrorAs(t, err, &verr)
			require.Len(t, verr.Fields, 1)
			require.True(t, verr.Has(tc.field), "%v", err)
			require.Empty(t, g.calls())
		})
	}
}

// recordPages serves total records, numbered 1..total, in the pages the
// request asks for.
func recordPages(t *testing.T, total int, fail map[int]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q struct{ PageNo, PageSize int }
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			t.Errorf("body: %v", err)
		}
		if body, ok := fail[q.PageNo]; ok {
			_, _ = w.Write([]byte(body))
			return
		}
		var rows []string
		for id := (q.PageNo-1)*q.PageSize + 1; id <= min(q.PageNo*q.PageSize, total); id++ {
			rows = append(rows, fmt.Sprintf(`{"id":%d,"amount":%d,"desc":"d","createTime":"2021-06-21 14:35:29","updateTime":"2021-06-21 14:35:29"}`, id, id*10))
		}
		_, _ = fmt.Fprintf(w, `{"success":true,"error_code":200,"error_message":"","data":[%s],"pageNo":%d,"pageSize":%d,"totalCount":%d}`,
			strings.Join(rows, ","), q.PageNo, q.PageSize, total)
	}
}

func collect(seq func(func(ScoreRecord, error) bool)) (ids []int64, errs []error) {
	for r, err := range seq {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, r.ID)
	}
	return ids, errs
}

func TestScoreAllRecordsWalksEveryPage(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.score.record", recordPages(t, 5, nil))
	req := &ScoreRecordsRequest{OpenID: "o1", ScoreType: ScoreIncome, PageRequest: PageRequest{PageSize: 2}}

	ids, errs := collect(c.Score.AllRecords(context.Background(), req))
	require.Empty(t, errs)
	require.Equal(t, []int64{1, 2, 3, 4, 5}, ids)
	calls := g.calls()
	require.Len(t, calls, 3)
	for i, call := range calls {
		require.Equal(t, fmt.Sprintf(`{"open_id":"o1","score_type":1,"pageSize":2,"pageNo":%d}`, i+1), string(call.Body))
	}
	require.Equal(t, ScoreRecordsRequest{OpenID: "o1", ScoreType: ScoreIncome, PageRequest: PageRequest{PageSize: 2}}, *req,
		"the caller's request is not modified")
}

func TestScoreAllRecordsDefaultPageSizeAndFullLastPage(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.score.record", recordPages(t, 20, nil))
	req := &ScoreRecordsRequest{OpenID: "o1"}
	ids, errs := collect(c.Score.AllRecords(context.Background(), req))
	require.Empty(t, errs)
	require.Len(t, ids, 20)
	require.Len(t, g.calls(), 2, "totalCount ends the walk without asking for an empty third page")
	require.Zero(t, req.PageNo)
	require.Zero(t, req.PageSize)
}

func TestScoreAllRecordsEmpty(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.score.record", `{"success":true,"error_code":200,"error_message":"","data":[],"pageNo":1,"pageSize":10,"totalCount":0}`)
	ids, errs := collect(c.Score.AllRecords(context.Background(), &ScoreRecordsRequest{OpenID: "o1"}))
	require.Empty(t, ids)
	require.Empty(t, errs)
	require.Len(t, g.calls(), 1)
}

func TestScoreAllRecordsStopsAtAnError(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.score.record", recordPages(t, 9, map[int]string{
		2: `{"success":false,"error_code":150006,"error_message":"无积分池记录","data":null}`,
	}))
	var ids []int64
	var errs []error
	for r, err := range c.Score.AllRecords(context.Background(), &ScoreRecordsRequest{OpenID: "o1", PageRequest: PageRequest{PageSize: 3}}) {
		if err != nil {
			errs = append(errs, err)
			continue // the iterator must stop by itself
		}
		ids = append(ids, r.ID)
	}
	require.Equal(t, []int64{1, 2, 3}, ids)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], ErrNoScorePool)
	require.Len(t, g.calls(), 2)
}

func TestScoreAllRecordsValidationAndBreak(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.score.record", recordPages(t, 50, nil))

	ids, errs := collect(c.Score.AllRecords(context.Background(), nil))
	require.Empty(t, ids)
	require.Len(t, errs, 1)
	var verr *ValidationError
	require.True(t, errors.As(errs[0], &verr) && verr.Has("open_id"))
	require.Empty(t, g.calls())

	for r, err := range c.Score.AllRecords(context.Background(), &ScoreRecordsRequest{OpenID: "o1", PageRequest: PageRequest{PageNo: 2}}) {
		require.NoError(t, err)
		require.Equal(t, int64(11), r.ID, "starts at the requested page")
		break
	}
	require.Len(t, g.calls(), 1, "breaking out fetches no further page")
}

// A rollback repeated after a lost answer meets its own change_id: the
// points are back, which is no error.
func TestScoreRollbackDuplicateMeansApplied(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.event.score.rollback", sequence(hangUp(t),
		answerWith(`{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)))
	res, err := c.Score.Rollback(context.Background(), &ScoreRollbackRequest{
		OpenID: "25c56912e05847c0b09f03ca7e52b796", StatementID: "SP016244316351097643",
		RollbackScore: 50, ChangeID: NewChangeID(),
	})
	require.NoError(t, err)
	require.Equal(t, &ScoreRollbackResult{AlreadyApplied: true}, res)
	require.Len(t, g.calls(), 2)
}

// The gateway applied a score change but answered with data of a shape the
// SDK does not expect: the change applied, so Change must not report a
// definite failure, which would invite a resend under a new change_id.
func TestAppliedChangeWithUnreadableDataIsNotAFailure(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":true,"error_code":200,"error_message":"","data":"SP016244316351097643"}`)
	res, err := c.Score.Change(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, validChange().ChangeID, res.ChangeID)
	require.Len(t, g.calls(), 1, "sent once, no resolution")
}
