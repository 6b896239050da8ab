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

// After an attempt with no definite answer, the change is sent again, the
// same bytes under the same change_id, and never rolled back
// (docs/spec-notes.md#20).
func TestScoreChangeResendsUnderTheSameChangeID(t *testing.T) {
	duplicate := `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`
	busy := `{"success":false,"error_code":500,"error_message":"系统繁忙","data":null}`
	for _, tc := range []struct {
		name  string
		first http.HandlerFunc
		then  string
		want  ScoreChangeResult
	}{
		{"lost, then applied now", hangUp(t), fixture(t, "score-change.json"),
			ScoreChangeResult{StatementID: "SP016244316351097643", ChangeID: validChange().ChangeID}},
		{"lost, then 150002: the lost one applied", hangUp(t), duplicate,
			ScoreChangeResult{ChangeID: validChange().ChangeID, AlreadyApplied: true}},
		{"busy, then 150002: the busy one applied", answerWith(busy), duplicate,
			ScoreChangeResult{ChangeID: validChange().ChangeID, AlreadyApplied: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			g.handle("wk.user.event.score.change", sequence(tc.first, answerWith(tc.then)))
			res, err := c.Score.Change(context.Background(), validChange())
			require.NoError(t, err)
			require.Equal(t, &tc.want, res)
			calls := g.calls()
			require.Len(t, calls, 2, "no rollback")
			for _, r := range calls {
				require.Equal(t, "wk.user.event.score.change", r.Method)
			}
			require.Equal(t, calls[0].Body, calls[1].Body, "the same bytes, the same change_id")
		})
	}
}

// Resolve sends the change again under its change_id: 150002 means it had
// applied; it can run any number of times.
func TestScoreResolveIsRepeatable(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.event.score.change", sequence(answerWith(fixture(t, "score-change.json")),
		answerWith(`{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)))
	a, err := c.Score.Resolve(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, &ScoreChangeResult{StatementID: "SP016244316351097643", ChangeID: validChange().ChangeID}, a)
	b, err := c.Score.Resolve(context.Background(), validChange())
	require.NoError(t, err)
	require.Equal(t, &ScoreChangeResult{ChangeID: validChange().ChangeID, AlreadyApplied: true}, b)
	calls := g.calls()
	require.Len(t, calls, 2)
	require.Equal(t, calls[0].Body, calls[1].Body)
}

// Resolve settles what an answer proves: a refusal other than 150002 means
// the gateway does not hold the change_id, so the change did not apply.
func TestScoreResolveRefusedIsDefinite(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":false,"error_code":150003,"error_message":"积分不足","data":null}`)
	_, err := c.Score.Resolve(context.Background(), validChange())
	require.ErrorIs(t, err, ErrInsufficientPoints)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
}

func TestScoreChangeUnresolvedWithinTheBudget(t *testing.T) {
	c, g := setup(t) // MaxAttempts 3
	g.handle("wk.user.event.score.change", hangUp(t))

	_, err := c.Score.Change(context.Background(), validChange())
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	var unresolved *ScoreChangeUnresolvedError
	require.ErrorAs(t, err, &unresolved)
	var unknown *OutcomeUnknownError
	require.ErrorAs(t, err, &unknown)
	require.Equal(t, "wk.user.event.score.change", unknown.Method)
	require.True(t, Retryable(err))

	calls := g.calls()
	require.Len(t, calls, 3, "three sends of the change in all, nothing else")
	for _, r := range calls {
		require.Equal(t, "wk.user.event.score.change", r.Method)
		require.Equal(t, validChange().ChangeID, changeBody(t, r)["change_id"])
	}
	require.Equal(t, *validChange(), unresolved.Request, "the request as sent")
	require.Equal(t, "change_id="+validChange().ChangeID, unknown.Key)
	require.Contains(t, err.Error(), validChange().ChangeID)
	require.Contains(t, err.Error(), "Score.Resolve")

	// Later: the gateway answers again; the change had applied.
	g.reply("wk.user.event.score.change", `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)
	res, err := c.Score.Resolve(context.Background(), &unresolved.Request)
	require.NoError(t, err)
	require.True(t, res.AlreadyApplied)
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

// 150002 on the first send: the change_id was used by another call, and
// nothing moved.
func TestScoreChangeReusedChangeIDIsAnError(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)
	res, err := c.Score.Change(context.Background(), validChange())
	require.Nil(t, res)
	require.ErrorIs(t, err, ErrAlreadyExists)
	require.ErrorIs(t, err, ErrDuplicateChangeID, "the deprecated name matches too")
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.False(t, Retryable(err))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, int64(150002), apiErr.Code)
	require.Contains(t, err.Error(), "change_id 604becde4a097343239d2848de already used; nothing moved")
	require.Contains(t, err.Error(), "Score.Resolve")
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

// 3.4's example sends the change's own change_id with the statement_id: the
// gateway refuses it as taken, nothing moved, and that is an error; through
// ResolveRollback, a deliberate repeat, it reads as applied.
func TestScoreRollbackReusedChangeIDIsAnError(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.rollback", `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)
	req := &ScoreRollbackRequest{OpenID: "25c56912e05847c0b09f03ca7e52b796", StatementID: "SP016244316351097643",
		RollbackScore: 50, ChangeID: "604becde4a097343239d2848de"}
	res, err := c.Score.Rollback(context.Background(), req)
	require.Nil(t, res)
	require.ErrorIs(t, err, ErrAlreadyExists)
	require.Contains(t, err.Error(), "nothing moved")
	require.False(t, Retryable(err))
	require.Len(t, g.calls(), 1)

	res, err = c.Score.ResolveRollback(context.Background(), req)
	require.NoError(t, err)
	require.True(t, res.AlreadyApplied)
}

// change_id is printable ASCII: two ids that are not valid UTF-8 would both
// travel as U+FFFD.
func TestChangeIDMustBePrintableASCII(t *testing.T) {
	c, g := setup(t)
	for _, id := range []string{"\xff\xfe", "\xff\xfd", "变动-1", "a b", "tab\t", "nul\x00"} {
		r := validChange()
		r.ChangeID = id
		_, err := c.Score.Change(context.Background(), r)
		requireValidation(t, err, "wk.user.event.score.change", "change_id")
		_, err = c.Score.Resolve(context.Background(), r)
		requireValidation(t, err, "wk.user.event.score.change", "change_id")
		_, err = c.Score.Rollback(context.Background(), &ScoreRollbackRequest{OpenID: "o1", RollbackScore: 5, ChangeID: id})
		requireValidation(t, err, "wk.user.event.score.rollback", "change_id")
	}
	require.Empty(t, g.calls())
}

// Scores are the document's Integer: 32 bits.
func TestScoresMustFit32Bits(t *testing.T) {
	c, g := setup(t)
	r := validChange()
	r.Score = 1 << 31
	_, err := c.Score.Change(context.Background(), r)
	requireValidation(t, err, "wk.user.event.score.change", "score")
	_, err = c.Score.Rollback(context.Background(), &ScoreRollbackRequest{OpenID: "o1", RollbackScore: 1 << 31, ChangeID: "c1"})
	requireValidation(t, err, "wk.user.event.score.rollback", "rollback_score")
	require.Empty(t, g.calls())
	g.reply("wk.user.event.score.change", fixture(t, "score-change.json"))
	r.Score = 1<<31 - 1
	_, err = c.Score.Change(context.Background(), r)
	require.NoError(t, err)
}

// Points and counts typed Integer are refused beyond 32 bits on every call
// that sends them.
func TestIntegersFit32BitsEverywhere(t *testing.T) {
	c, g := setup(t)
	const big = 1 << 31
	_, err := c.Order.SyncConsume(context.Background(), &ConsumeOrderRequest{OrderDetails: OrderDetails{
		OrderNo: "S-1", Phone: "13800000000", ConsumeDate: time.Now(), OrderAmount: Yuan(1, 0), OrderScore: big}})
	requireValidation(t, err, "wk.user.consume.order", "order_score")
	_, err = c.Coupon.CreateTemplate(context.Background(), &CouponTemplateRequest{ThirdCouponID: "t", Name: "n",
		DiscountFee: 1000, Rules: "r", FixedTerm: big, Quantity: big, ClaimNumber: big})
	requireValidation(t, err, "wk.coupon.template.add", "fixed_term", "quantity", "claim_number")
	_, err = c.Coupon.Give(context.Background(), &GiveCouponsRequest{ThirdCouponID: "t", Number: big,
		CouponSet: []CouponGrant{{OpenID: "o", ParamsType: ParamsOpenID, CouponNumber: "cn"}}})
	requireValidation(t, err, "wk.coupon.give", "number")
	require.Empty(t, g.calls())
}

// The gateway applied a score change but answered with data of a shape the
// SDK does not expect: the change applied, so Change must neither report a
// definite failure, which would invite a resend under a new change_id, nor
// a result of zeros: ErrAppliedUnreadable says both.
func TestAppliedChangeWithUnreadableDataIsNotAFailure(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":true,"error_code":200,"error_message":"","data":"SP016244316351097643"}`)
	res, err := c.Score.Change(context.Background(), validChange())
	require.ErrorIs(t, err, ErrAppliedUnreadable, "applied, and said so: not zeros read as a result")
	require.Equal(t, &ScoreChangeResult{ChangeID: validChange().ChangeID}, res, "applied: the result holds what decoded")
	require.Contains(t, err.Error(), "the call was applied, but its answer could not be read")
	require.False(t, Retryable(err), "do not send it again")
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Len(t, g.calls(), 1, "sent once")
}
