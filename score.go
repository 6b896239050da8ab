package ump

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"iter"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// ScoreService holds the gateway's score calls (sections 3.3-3.5).
type ScoreService service

var (
	epScoreChange = endpoint{method: "wk.user.event.score.change"}
	// The gateway deduplicates rollbacks on change_id (section 3.4), so a
	// repeat cannot reverse points twice.
	epScoreRollback = endpoint{method: "wk.user.event.score.rollback", idempotent: true}
	epScoreRecords  = endpoint{method: "wk.user.score.record", idempotent: true}
)

// ChangeEvent is a score change event registered on the platform; the
// document names the two below, and a platform may register more.
type ChangeEvent string

// The change events the document names.
const (
	EventAdd      ChangeEvent = "event_add"      // adds points
	EventSubtract ChangeEvent = "event_subtract" // takes points away
)

// ScoreType selects which score records to list (section 3.5).
type ScoreType int

// The score types of section 3.5.
const (
	ScoreAll     ScoreType = 0 // income and expense
	ScoreIncome  ScoreType = 1
	ScoreExpense ScoreType = 2
)

// NewChangeID returns a fresh random change_id: 26 lower-case hex characters,
// the shape of the document's example. Keep it with the change: it is the key
// the gateway deduplicates on and the handle for a rollback when the outcome
// of a change is unknown.
func NewChangeID() string {
	var b [13]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b[:])
}

// ScoreChangeRequest moves a member's points (section 3.3). Every field is
// required (NOTES.md #12: the table, revised in V2.1, wins over the example).
type ScoreChangeRequest struct {
	// OpenID is the member's open_id, or the member's phone number.
	OpenID string `json:"open_id"`
	// Score is the number of points to move, above zero.
	Score int64 `json:"score"`
	// OutBizNo is the integrator's business number, such as the order number.
	OutBizNo string `json:"out_biz_no"`
	// OrderAmount is the order's total; zero is sent as 0.
	OrderAmount Amount `json:"order_amount"`
	// ChangeReason describes the change to the member, such as "兑换权益".
	ChangeReason string `json:"change_reason"`
	// ChangeEvent is the registered event, such as EventAdd.
	ChangeEvent ChangeEvent `json:"change_event"`
	// ChangeID identifies this change, unique per change (see NewChangeID);
	// the gateway deduplicates on it.
	ChangeID string `json:"change_id"`
}

// ScoreChangeResult is the answer to a score change.
type ScoreChangeResult struct {
	// StatementID identifies the points movement; a rollback names it.
	StatementID string
}

// ScoreRollbackRequest reverses a score change (section 3.4).
//
// After a change that answered, set StatementID to its result and ChangeID to
// a new id. After a change whose outcome is unknown, leave StatementID empty
// and set ChangeID to the change's own id: the gateway reverses the change if
// it happened, or answers that it found none (NOTES.md #13).
type ScoreRollbackRequest struct {
	// OpenID is the member's open_id, or the member's phone number.
	OpenID string `json:"open_id"`
	// StatementID is the change's statement_id; optional, see above.
	StatementID string `json:"statement_id,omitempty"`
	// RollbackScore is the number of points to give back, above zero.
	RollbackScore int64 `json:"rollback_score"`
	// ChangeID is required; the gateway deduplicates on it.
	ChangeID string `json:"change_id"`
}

// ScoreRollbackResult is the answer to a rollback.
type ScoreRollbackResult struct {
	// StatementID identifies the points movement of the rollback (empty if
	// the gateway answered only true, as the document's table suggests).
	StatementID string
}

// ScoreRecordsRequest selects one page of a member's score records (section
// 3.5). PageNo 0 means 1, PageSize 0 means 10; PageSize is at most 100.
type ScoreRecordsRequest struct {
	// OpenID is the member's open_id, or the member's phone number.
	OpenID string
	// ScoreType selects income, expense or both (ScoreAll, the zero value).
	ScoreType ScoreType
	PageRequest
}

// ScoreRecord is one points movement.
type ScoreRecord struct {
	ID int64
	// Amount is the number of points moved.
	Amount int64
	// Desc describes the movement, such as "消费增加积分".
	Desc       string
	CreateTime time.Time // Beijing time
	UpdateTime time.Time // Beijing time
}

// ScoreRecordPage is one page of score records.
type ScoreRecordPage = Page[ScoreRecord]

// defaultScorePageSize is 3.5's page size when none is asked for.
const defaultScorePageSize = 10

// Change adds or subtracts points.
//
// A change is not repeated after the request may have reached the gateway:
// an ambiguous failure (timeout, reset, a cut-off answer) returns an
// *OutcomeUnknownError whose Key is "change_id=<ChangeID>";
// errors.Is(err, ErrOutcomeUnknown) holds. Resolve it with Rollback, same
// ChangeID, no StatementID.
func (s *ScoreService) Change(ctx context.Context, req *ScoreChangeRequest) (*ScoreChangeResult, error) {
	if req == nil {
		req = &ScoreChangeRequest{}
	}
	v := checker{method: epScoreChange.method}
	v.required("open_id", req.OpenID)
	if req.Score <= 0 {
		v.add("score", "must be above zero")
	}
	v.required("out_biz_no", req.OutBizNo)
	if req.OrderAmount < 0 {
		v.add("order_amount", "must not be negative")
	}
	v.required("change_reason", req.ChangeReason)
	v.required("change_event", string(req.ChangeEvent))
	v.required("change_id", req.ChangeID)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, _, err := callKeyed[statementData](ctx, s.client, &epScoreChange, req, "change_id="+req.ChangeID)
	if err != nil {
		return nil, err
	}
	return &ScoreChangeResult{StatementID: string(d.StatementID)}, nil
}

// Rollback gives back points of an earlier change. It is repeated on
// ambiguous failures like a read, because the gateway deduplicates on
// change_id.
func (s *ScoreService) Rollback(ctx context.Context, req *ScoreRollbackRequest) (*ScoreRollbackResult, error) {
	if req == nil {
		req = &ScoreRollbackRequest{}
	}
	v := checker{method: epScoreRollback.method}
	v.required("open_id", req.OpenID)
	if req.RollbackScore <= 0 {
		v.add("rollback_score", "must be above zero")
	}
	v.required("change_id", req.ChangeID)
	if err := v.err(); err != nil {
		return nil, err
	}
	d, _, err := call[statementData](ctx, s.client, &epScoreRollback, req)
	if err != nil {
		return nil, err
	}
	return &ScoreRollbackResult{StatementID: string(d.StatementID)}, nil
}

// Records returns one page of a member's score records, with the paging
// fields of the answer.
func (s *ScoreService) Records(ctx context.Context, req *ScoreRecordsRequest) (*ScoreRecordPage, error) {
	if req == nil {
		req = &ScoreRecordsRequest{}
	}
	v := checker{method: epScoreRecords.method}
	v.required("open_id", req.OpenID)
	if req.ScoreType < ScoreAll || req.ScoreType > ScoreExpense {
		v.add("score_type", "must be 0 (all), 1 (income) or 2 (expense)")
	}
	pr := v.pageParams(req.PageRequest, "pageNo", "pageSize", defaultScorePageSize)
	if err := v.err(); err != nil {
		return nil, err
	}
	body := scoreRecordsBody{OpenID: req.OpenID, ScoreType: req.ScoreType, PageSize: pr.PageSize, PageNo: pr.PageNo}
	return listPage(ctx, s.client, &epScoreRecords, body, pr, func(r *scoreRecordData) ScoreRecord {
		return ScoreRecord{
			ID: int64(r.ID), Amount: int64(r.Amount), Desc: string(r.Desc),
			CreateTime: time.Time(r.CreateTime), UpdateTime: time.Time(r.UpdateTime),
		}
	})
}

// AllRecords walks every score record from req's page on (page 1 when
// PageNo is 0), fetching page after page. It stops after the last page, or
// after yielding an error, or when the loop breaks. req is not modified.
//
//	for rec, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: id}) {
//		if err != nil { return err }
//		...
//	}
func (s *ScoreService) AllRecords(ctx context.Context, req *ScoreRecordsRequest) iter.Seq2[ScoreRecord, error] {
	var base ScoreRecordsRequest
	if req != nil {
		base = *req
	}
	return allPages(ctx, base.PageRequest, func(ctx context.Context, pr PageRequest) (*ScoreRecordPage, error) {
		r := base
		r.PageRequest = pr
		return s.Records(ctx, &r)
	})
}

// scoreRecordsBody is 3.5's body: camelCase paging names and numbers, not
// the strings of the document's example (NOTES.md #5).
type scoreRecordsBody struct {
	OpenID    string    `json:"open_id"`
	ScoreType ScoreType `json:"score_type"`
	PageSize  int       `json:"pageSize"`
	PageNo    int       `json:"pageNo"`
}

type scoreRecordData struct {
	ID         wire.Int64    `json:"id"`
	Amount     wire.Int64    `json:"amount"`
	Desc       wire.String   `json:"desc"`
	CreateTime wire.DateTime `json:"createTime"`
	UpdateTime wire.DateTime `json:"updateTime"`
}

// statementData is the data of a change or a rollback: {statement_id}. The
// rollback table types data as Boolean, so a bare true or false is accepted
// too and leaves the id empty.
type statementData struct {
	StatementID wire.String
}

func (d *statementData) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "true", "false", "null":
		*d = statementData{}
		return nil
	}
	var v struct {
		StatementID wire.String `json:"statement_id"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.StatementID = v.StatementID
	return nil
}
