package ump

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// ScoreService holds the gateway's score calls (sections 3.3-3.5).
type ScoreService service

var (
	// A change is deduplicated on change_id, so "system busy" is repeated;
	// an ambiguous failure is resolved by Change (section 3.4).
	epScoreChange = endpoint{method: "wk.user.event.score.change", retry: retryBusyOnly}
	// The gateway deduplicates rollbacks on change_id (section 3.4), so a
	// repeat cannot reverse points twice.
	epScoreRollback = endpoint{method: "wk.user.event.score.rollback", retry: retryKeyed}
	epScoreRecords  = endpoint{method: "wk.user.score.record", retry: retrySafe}
)

// The answers that settle an unknown outcome, each set kept in this one
// place so that a code the real gateway turns out to use is one edit.
var (
	// duplicateKey: the key of the call (change_id, order_no) was used
	// before, so the call it names had already been applied.
	duplicateKey = ErrAlreadyExists // 150002
	// noSuchChange: a rollback by change_id alone found no change made with
	// that change_id, so nothing moved. 150004 is the error table's "score
	// statement not found"; 1005 is what 3.4's own example answers (marked
	// "返回code以实际为准", the real code may differ).
	noSuchChange = code("no score change was made with this change_id", 150004, 1005)
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
	// OpenID is the member's open_id or mainland mobile number.
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

// LogValue implements slog.LogValuer: the change's keys and amount, with
// OpenID masked when it is a phone number.
func (r ScoreChangeRequest) LogValue() slog.Value {
	openID := r.OpenID
	if wire.IsMobile(openID) {
		openID = redact.Phone(openID)
	}
	return slog.GroupValue(
		slog.String("change_id", r.ChangeID), slog.String("open_id", openID),
		slog.Int64("score", r.Score), slog.String("change_event", string(r.ChangeEvent)),
		slog.String("out_biz_no", r.OutBizNo),
	)
}

// ScoreChangeResult is the answer to a score change.
type ScoreChangeResult struct {
	// StatementID identifies the points movement; a rollback names it. It
	// is empty when AlreadyApplied is set.
	StatementID string
	// ChangeID is the change_id under which the change applied: the
	// request's own, or, when the SDK resolved an unknown outcome, the one
	// it sent in its place (see Change). Keep it with the business record.
	ChangeID string
	// AlreadyApplied reports that the gateway refused ChangeID as already
	// used (150002): the change had been applied by an earlier call with
	// the same request, and this call moved nothing. The gateway does not
	// repeat the statement_id then.
	AlreadyApplied bool
}

// ScoreRollbackRequest reverses a score change (section 3.4).
//
// After a change that answered, set StatementID to its result and ChangeID to
// a new id. After a change whose outcome is unknown, leave StatementID empty
// and set ChangeID to the change's own id: the gateway reverses the change if
// it happened, or answers that it found none (NOTES.md #13).
type ScoreRollbackRequest struct {
	// OpenID is the member's open_id or mainland mobile number.
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
	// the gateway answered only true, as the document's table suggests, or
	// when AlreadyApplied is set).
	StatementID string
	// AlreadyApplied reports that the gateway refused the rollback as a
	// duplicate (150002): its change_id was used by an earlier attempt of
	// the same rollback, which a lost answer hid, or the statement had
	// already been rolled back. Either way the points are back.
	AlreadyApplied bool
}

// ScoreRecordsRequest selects one page of a member's score records (section
// 3.5). PageNo 0 means 1, PageSize 0 means 10; PageSize is at most 100.
type ScoreRecordsRequest struct {
	// OpenID is the member's open_id or mainland mobile number.
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

// Change adds or subtracts points (3.3), exactly once: see "Score changes:
// exactly once" in the package documentation.
//
// A change_id the gateway has seen (150002) returns a result with
// AlreadyApplied set and no error; "system busy" is sent again under the
// same change_id. When an attempt gets no definite answer, Change rolls the
// change back by its change_id and sends it again under a derived one; the
// result's ChangeID names the change_id that applied. If that cannot finish
// within the context and the RetryPolicy, the error is a
// *ScoreChangeUnresolvedError (it matches ErrOutcomeUnknown): persist its
// Request and finish with Resolve. Any other error is definite: nothing
// applied; send the change again only with a NewChangeID, or through Resolve.
func (s *ScoreService) Change(ctx context.Context, req *ScoreChangeRequest) (res *ScoreChangeResult, err error) {
	c := clientOf(s)
	if req == nil {
		req = &ScoreChangeRequest{}
	}
	if err := c.validate(&epScoreChange, req); err != nil {
		return nil, err
	}
	// One call for the hooks, however many requests a resolution sends.
	ctx, trace := c.openCall(ctx, &epScoreChange, c.hookKey("change_id", req.ChangeID))
	defer func() { trace.close(ctx, &epScoreChange, err) }()
	r := *req
	d, _, err := call[statementData](ctx, c, &epScoreChange, &r, "change_id="+r.ChangeID)
	res, err = changeResult(&r, d, err)
	if !errors.Is(err, ErrOutcomeUnknown) {
		return res, err
	}
	trace.markResolving()
	c.log.LogAttrs(ctx, slog.LevelWarn, "ump: score change outcome unknown, resolving",
		slog.String("change_id", r.ChangeID), slog.String("error", err.Error()))
	return s.resolve(ctx, r, c.retry.MaxAttempts-1, err)
}

// Resolve finishes a score change whose outcome is unknown: req is the
// change as sent, its ChangeID the change_id of unknown outcome (the Request
// of a *ScoreChangeUnresolvedError). It rolls that change back and sends it
// again under a derived change_id, as Change does, and answers the same way.
// It is safe to run more than once, and after a Change that finished: the
// change ends up applied once (a change that stood is rolled back and
// applied again, so the member's records show the pair).
func (s *ScoreService) Resolve(ctx context.Context, req *ScoreChangeRequest) (res *ScoreChangeResult, err error) {
	c := clientOf(s)
	if req == nil {
		req = &ScoreChangeRequest{}
	}
	if err := c.validate(&epScoreChange, req); err != nil {
		return nil, err
	}
	ctx, trace := c.openCall(ctx, &epScoreChange, c.hookKey("change_id", req.ChangeID))
	defer func() { trace.close(ctx, &epScoreChange, err) }()
	trace.markResolving()
	return s.resolve(ctx, *req, c.retry.MaxAttempts, nil)
}

// check requires every field, as the table does.
func (r *ScoreChangeRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.positive("score", r.Score)
	v.required("out_biz_no", r.OutBizNo)
	v.notNegative("order_amount", int64(r.OrderAmount))
	v.required("change_reason", r.ChangeReason)
	v.required("change_event", string(r.ChangeEvent))
	v.required("change_id", r.ChangeID)
}

// changeResult reads the answer to a change sent under r's change_id: a
// duplicate (150002) means an earlier send under that change_id applied.
func changeResult(r *ScoreChangeRequest, d statementData, err error) (*ScoreChangeResult, error) {
	switch {
	case err == nil:
		return &ScoreChangeResult{StatementID: string(d.StatementID), ChangeID: r.ChangeID}, nil
	case errors.Is(err, duplicateKey):
		return &ScoreChangeResult{ChangeID: r.ChangeID, AlreadyApplied: true}, nil
	}
	return nil, err
}

// resolve settles r, whose change_id has an unknown outcome: undo it, send
// the change under the next change_id, and go on until a send is answered.
// sends is what is left of the budget; cause is why the outcome is unknown.
func (s *ScoreService) resolve(ctx context.Context, r ScoreChangeRequest, sends int, cause error) (*ScoreChangeResult, error) {
	for {
		if sends <= 0 {
			return nil, s.unresolved(ctx, r, cause)
		}
		// Undo the change by its change_id alone (3.4). Nothing of it
		// stands after a success, a duplicate (reversed before) or "no
		// such change" (never applied).
		undo := ScoreRollbackRequest{OpenID: r.OpenID, RollbackScore: r.Score, ChangeID: r.ChangeID}
		_, _, err := call[statementData](ctx, s.client, &epScoreRollback, &undo, "")
		if err != nil && !errors.Is(err, duplicateKey) && !errors.Is(err, noSuchChange) {
			return nil, s.unresolved(ctx, r, err)
		}
		r.ChangeID = nextChangeID(r.ChangeID)
		d, _, err := call[statementData](ctx, s.client, &epScoreChange, &r, "change_id="+r.ChangeID)
		res, err := changeResult(&r, d, err)
		sends--
		var apiErr *APIError
		switch {
		case err == nil && !res.AlreadyApplied:
			s.client.log.LogAttrs(ctx, slog.LevelInfo, "ump: score change resolved", slog.String("change_id", r.ChangeID))
			return res, nil
		case err == nil:
			// An earlier resolution from the same change_id sent this
			// one; it may since have been undone too. Undo it and go on.
			cause = errors.New("change_id " + r.ChangeID + " was sent by an earlier resolution")
		case errors.Is(err, ErrOutcomeUnknown):
			cause = err
		case errors.As(err, &apiErr):
			return nil, err // definite: the change did not apply
		default:
			// Not sent (the context ended, or no connection): still a
			// resolution in progress, which Resolve can finish.
			return nil, s.unresolved(ctx, r, err)
		}
	}
}

func (s *ScoreService) unresolved(ctx context.Context, r ScoreChangeRequest, cause error) error {
	if cause == nil {
		cause = errors.New("retry budget spent")
	}
	s.client.log.LogAttrs(ctx, slog.LevelWarn, "ump: score change left unresolved",
		slog.String("change_id", r.ChangeID), slog.String("error", cause.Error()))
	return &ScoreChangeUnresolvedError{
		OutcomeUnknownError: OutcomeUnknownError{Method: epScoreChange.method, Key: "change_id=" + r.ChangeID, Err: cause},
		Request:             r,
	}
}

// nextChangeID derives the change_id a resolution sends in place of id. See
// Change for why it is derived rather than random.
func nextChangeID(id string) string {
	sum := sha256.Sum256([]byte("ump-go/score-resolution/" + id))
	return hex.EncodeToString(sum[:13])
}

// ScoreChangeUnresolvedError is returned by Change and Resolve when a score
// change's outcome could not be settled before the context ended or the
// retry budget was spent. errors.Is(err, ErrOutcomeUnknown) holds and
// errors.As finds the embedded *OutcomeUnknownError (Key
// "change_id=<Request.ChangeID>").
//
// Persist Request (it is JSON-serialisable) and pass it to Score.Resolve
// later, from a job or after a restart; do not send the change again
// yourself under any change_id.
type ScoreChangeUnresolvedError struct {
	OutcomeUnknownError
	// Request is the change to hand to Resolve; its ChangeID is the
	// change_id whose outcome is unknown, which may differ from the one
	// first sent.
	Request ScoreChangeRequest
}

// Error implements error. It names the change_id, never the member.
func (e *ScoreChangeUnresolvedError) Error() string {
	return "ump: " + e.Method + ": outcome unknown (" + e.Key + "), resolution unfinished; finish it with Score.Resolve: " + e.Err.Error()
}

// Unwrap returns the embedded *OutcomeUnknownError, which unwraps to the
// failure that stopped the resolution.
func (e *ScoreChangeUnresolvedError) Unwrap() error { return &e.OutcomeUnknownError }

// Rollback gives back points of an earlier change. It is repeated on
// ambiguous failures like a read, because the gateway deduplicates on
// change_id: a repeat of a rollback that did apply is refused as a duplicate
// (150002), and Rollback reports that as AlreadyApplied, not as an error.
// (A change_id that collides with another call's is refused the same way;
// NewChangeID makes that practically impossible.)
func (s *ScoreService) Rollback(ctx context.Context, req *ScoreRollbackRequest) (*ScoreRollbackResult, error) {
	c := clientOf(s)
	if req == nil {
		req = &ScoreRollbackRequest{}
	}
	if err := c.validate(&epScoreRollback, req); err != nil {
		return nil, err
	}
	d, _, err := call[statementData](ctx, c, &epScoreRollback, req, "")
	if errors.Is(err, duplicateKey) {
		return &ScoreRollbackResult{AlreadyApplied: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return &ScoreRollbackResult{StatementID: string(d.StatementID)}, nil
}

func (r *ScoreRollbackRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.positive("rollback_score", r.RollbackScore)
	v.required("change_id", r.ChangeID)
}

func (r *ScoreRecordsRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.between("score_type", int64(r.ScoreType), int64(ScoreAll), int64(ScoreExpense))
	v.page(r.PageRequest, "pageNo", "pageSize")
}

// Records returns one page of a member's score records, with the paging
// fields of the answer.
func (s *ScoreService) Records(ctx context.Context, req *ScoreRecordsRequest) (*ScoreRecordPage, error) {
	c := clientOf(s)
	if req == nil {
		req = &ScoreRecordsRequest{}
	}
	if err := c.validate(&epScoreRecords, req); err != nil {
		return nil, err
	}
	pr := req.PageRequest.orDefault(defaultScorePageSize)
	body := scoreRecordsBody{OpenID: req.OpenID, ScoreType: req.ScoreType, PageSize: pr.PageSize, PageNo: pr.PageNo}
	return listPage(ctx, c, &epScoreRecords, body, pr, func(r *scoreRecordData) ScoreRecord {
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
	clientOf(s) // fails here, not when the iteration starts
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
