package ump

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// ScoreService holds the gateway's score calls (sections 3.3-3.5).
type ScoreService service

// The score calls. The gateway deduplicates changes and rollbacks on
// change_id (3.3, 3.4), so both are sent again under the same change_id
// after "system busy" and after an attempt with no definite answer: a copy
// that finds the first applied is refused as a duplicate (150002).
var (
	epScoreChange   = endpoint{method: "wk.user.event.score.change", retry: retryKeyed}
	epScoreRollback = endpoint{method: "wk.user.event.score.rollback", retry: retryKeyed}
	epScoreRecords  = endpoint{method: "wk.user.score.record", retry: retrySafe}
)

// duplicateKey is the answer that the key of a write (change_id, order_no)
// is taken: 150002, kept in this one place so that a code the real gateway
// turns out to use is one edit. Whether it means "applied before" or
// "nothing moved" depends on who sent the key before (see Change).
var duplicateKey = ErrAlreadyExists

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
// required (docs/spec-notes.md#12: the table, revised in V2.1, wins over
// the example).
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
	// ChangeID identifies this change, unique per change (see NewChangeID),
	// printable ASCII; the gateway deduplicates on it.
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
	// ChangeID is the change_id under which the change applied: always the
	// request's own.
	ChangeID string
	// AlreadyApplied reports that the change had applied before, and this
	// call moved nothing: the gateway refused ChangeID as taken (150002)
	// after an attempt of this call that may have applied (one that went
	// unanswered, or was answered "system busy"), or in Resolve. The
	// gateway does not repeat the statement_id then; Records shows it.
	AlreadyApplied bool
}

// ScoreRollbackRequest reverses a score change (section 3.4).
//
// After a change that answered, set StatementID to its result and ChangeID to
// a new id (NewChangeID): the change's own change_id is taken, and the
// gateway refuses it (ErrAlreadyExists).
//
// To undo a change whose outcome is unknown instead of finishing it with
// Resolve, leave StatementID empty and set ChangeID to the change's own id:
// the gateway reverses the change if it finds it, or answers that it found
// none (docs/spec-notes.md#13). Beware that a copy of the change still on
// its way may land after that answer; Score.Resolve has no such race
// (docs/spec-notes.md#20). A refusal for insufficient points
// (ErrInsufficientPoints) to such a rollback proves the change applied: the
// member has spent the points since.
type ScoreRollbackRequest struct {
	// OpenID is the member's open_id or mainland mobile number.
	OpenID string `json:"open_id"`
	// StatementID is the change's statement_id; optional, see above.
	StatementID string `json:"statement_id,omitempty"`
	// RollbackScore is the number of points to give back, above zero.
	RollbackScore int64 `json:"rollback_score"`
	// ChangeID is required, printable ASCII; the gateway deduplicates on it.
	ChangeID string `json:"change_id"`
}

// ScoreRollbackResult is the answer to a rollback.
type ScoreRollbackResult struct {
	// StatementID identifies the points movement of the rollback (empty if
	// the gateway answered only true, as the document's table suggests, or
	// when AlreadyApplied is set).
	StatementID string
	// AlreadyApplied reports that the rollback had applied before and this
	// call moved nothing: the gateway refused its change_id as taken
	// (150002) after an attempt of this call that may have applied, or in
	// ResolveRollback.
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
// The gateway refuses a second change under a change_id it already holds
// (150002). So when an attempt ends without a definite answer (a timeout,
// a reset, a proxy's error page, a cut-off answer) or is answered "system
// busy", Change sends the same request again under the same ChangeID,
// within the client's RetryPolicy and ctx, until a definite answer:
// success (applied now; a late copy of an earlier attempt is then refused),
// or 150002, which then means an earlier attempt of this call applied: the
// result has AlreadyApplied set and no StatementID (the gateway does not
// repeat it). Change never rolls back and never changes the change_id.
//
// 150002 on the first send means the ChangeID was used before, by another
// call: nothing moved, and the error matches ErrAlreadyExists. If that call
// was a change of unknown outcome that this one repeats, use Resolve.
//
// If the retries or ctx end with the outcome still unknown, the error is a
// *ScoreChangeUnresolvedError (it matches ErrOutcomeUnknown): persist its
// Request and finish with Resolve. An error matching ErrAppliedUnreadable
// means the change applied but its answer could not be read (the result
// comes with it). Any other error is definite: the change did not apply.
func (s *ScoreService) Change(ctx context.Context, req *ScoreChangeRequest) (*ScoreChangeResult, error) {
	return s.change(ctx, req, false)
}

// Resolve finishes a score change whose outcome is unknown: req is the
// change exactly as it was sent (the Request of a
// *ScoreChangeUnresolvedError, or the request a job persisted before
// calling Change). It sends it again under the same ChangeID, as Change
// does, and settles what the answer proves: success (applied now, once),
// 150002 (it had applied before: AlreadyApplied, no StatementID), another
// refusal (the gateway does not hold the change_id, so the change did not
// apply, and does not now), or no definite answer again (a
// *ScoreChangeUnresolvedError, to run Resolve on later). It is safe to run
// any number of times, after a Change that failed or one that finished.
func (s *ScoreService) Resolve(ctx context.Context, req *ScoreChangeRequest) (*ScoreChangeResult, error) {
	return s.change(ctx, req, true)
}

// check requires every field, as the table does; change_id is printable
// ASCII and the score fits the document's Integer.
func (r *ScoreChangeRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.positive("score", r.Score)
	v.int32("score", r.Score)
	v.required("out_biz_no", r.OutBizNo)
	v.notNegative("order_amount", int64(r.OrderAmount))
	v.required("change_reason", r.ChangeReason)
	v.required("change_event", string(r.ChangeEvent))
	v.key("change_id", r.ChangeID)
}

// change checks req and sends it through the request path, which sends it
// again under the same change_id as its retry class allows, and reads the
// answer. resolving means req repeats a change of unknown outcome on
// purpose, so a duplicate answer on the first send reads as "applied
// before" too.
func (s *ScoreService) change(ctx context.Context, req *ScoreChangeRequest, resolving bool) (res *ScoreChangeResult, err error) {
	c := clientOf(s)
	req, err = checkRequest(c, &epScoreChange, req)
	if err != nil {
		return nil, err
	}
	r := *req
	// The hooks see the call as this method reads it (already applied,
	// resolved), not as the request path's refusal.
	ctx, trace := c.openCall(ctx, &epScoreChange, c.hookKey("change_id", r.ChangeID))
	defer func() { trace.close(ctx, err) }()
	trace.markResolving(resolving)
	d, _, err := call[statementData](ctx, c, &epScoreChange, &r, "change_id="+r.ChangeID)
	var apiErr *APIError
	switch {
	case err == nil:
		if resolving {
			c.log.LogAttrs(ctx, slog.LevelInfo, "ump: score change resolved: applied now", slog.String("change_id", r.ChangeID))
		}
		return &ScoreChangeResult{StatementID: string(d.StatementID), ChangeID: r.ChangeID}, nil
	case appliedByEarlierAttempt(err) || (resolving && errors.Is(err, duplicateKey)):
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: score change had applied before", slog.String("change_id", r.ChangeID))
		return &ScoreChangeResult{ChangeID: r.ChangeID, AlreadyApplied: true}, nil
	case errors.Is(err, duplicateKey):
		return nil, fmt.Errorf("ump: %s: change_id %s already used; nothing moved; if this repeats a change of unknown outcome, use Score.Resolve: %w",
			epScoreChange.method, r.ChangeID, err)
	case errors.Is(err, ErrOutcomeUnknown):
		return nil, s.unresolved(ctx, r, err)
	case errors.Is(err, ErrAppliedUnreadable):
		// Applied; the result carries what of the answer did decode.
		return &ScoreChangeResult{StatementID: string(d.StatementID), ChangeID: r.ChangeID}, err
	case errors.As(err, &apiErr):
		return nil, err // definite
	case resolving:
		// Not sent (the context ended, no token, no connection): the
		// outcome of the earlier attempt is still unknown.
		return nil, s.unresolved(ctx, r, err)
	}
	return nil, err // not sent: the change did not apply
}

func (s *ScoreService) unresolved(ctx context.Context, r ScoreChangeRequest, cause error) error {
	s.client.log.LogAttrs(ctx, slog.LevelWarn, "ump: score change left unresolved",
		slog.String("change_id", r.ChangeID), slog.String("error", cause.Error()))
	var unknown *OutcomeUnknownError
	if errors.As(cause, &unknown) {
		cause = unknown.Err
	}
	return &ScoreChangeUnresolvedError{
		OutcomeUnknownError: OutcomeUnknownError{Method: epScoreChange.method, Key: "change_id=" + r.ChangeID, Err: cause},
		Request:             r,
	}
}

// ScoreChangeUnresolvedError is returned by Change and Resolve when a score
// change's outcome could not be settled before the context ended or the
// retry budget was spent. errors.Is(err, ErrOutcomeUnknown) holds and
// errors.As finds the embedded *OutcomeUnknownError (Key
// "change_id=<Request.ChangeID>").
//
// Persist Request (it is JSON-serialisable) and pass it to Score.Resolve
// later, from a job or after a restart; do not send the change again
// yourself under another change_id: the first may still apply.
type ScoreChangeUnresolvedError struct {
	OutcomeUnknownError
	// Request is the change to hand to Resolve, exactly as it was sent.
	Request ScoreChangeRequest
}

// Error implements error. It names the change_id, never the member.
func (e *ScoreChangeUnresolvedError) Error() string {
	return "ump: " + e.Method + ": outcome unknown (" + e.Key + "), resolution unfinished; finish it with Score.Resolve: " + e.Err.Error()
}

// Unwrap returns the embedded *OutcomeUnknownError, which unwraps to the
// failure that stopped the resolution.
func (e *ScoreChangeUnresolvedError) Unwrap() error { return &e.OutcomeUnknownError }

// Rollback gives back points of an earlier change. The gateway
// deduplicates rollbacks on change_id, so Rollback is sent again under the
// same change_id after an attempt with no definite answer or "system busy";
// 150002 then means that attempt applied (AlreadyApplied). If the retries
// end with the outcome still unknown, the error matches ErrOutcomeUnknown:
// finish it with ResolveRollback.
//
// 150002 on the first send means the change_id was used before, by another
// call (3.4's own example reuses the change's change_id): nothing moved, and
// the error matches ErrAlreadyExists.
func (s *ScoreService) Rollback(ctx context.Context, req *ScoreRollbackRequest) (*ScoreRollbackResult, error) {
	return s.rollback(ctx, req, false)
}

// ResolveRollback finishes a rollback whose outcome is unknown: req is the
// rollback exactly as it was sent. It sends it again under the same
// change_id and reads 150002 as "it had applied" (AlreadyApplied); any
// other answer as Rollback does. It is safe to run any number of times.
func (s *ScoreService) ResolveRollback(ctx context.Context, req *ScoreRollbackRequest) (*ScoreRollbackResult, error) {
	return s.rollback(ctx, req, true)
}

func (s *ScoreService) rollback(ctx context.Context, req *ScoreRollbackRequest, resolving bool) (res *ScoreRollbackResult, err error) {
	c := clientOf(s)
	req, err = checkRequest(c, &epScoreRollback, req)
	if err != nil {
		return nil, err
	}
	ctx, trace := c.openCall(ctx, &epScoreRollback, c.hookKey("change_id", req.ChangeID))
	defer func() { trace.close(ctx, err) }()
	trace.markResolving(resolving)
	d, _, err := call[statementData](ctx, c, &epScoreRollback, req, "change_id="+req.ChangeID)
	switch {
	case err == nil:
		return &ScoreRollbackResult{StatementID: string(d.StatementID)}, nil
	case appliedByEarlierAttempt(err) || (resolving && errors.Is(err, duplicateKey)):
		return &ScoreRollbackResult{AlreadyApplied: true}, nil
	case errors.Is(err, duplicateKey):
		return nil, fmt.Errorf("ump: %s: change_id %s already used; nothing moved; a rollback needs a change_id of its own (NewChangeID), and one that repeats a rollback of unknown outcome goes through Score.ResolveRollback: %w",
			epScoreRollback.method, req.ChangeID, err)
	}
	return nil, err
}

func (r *ScoreRollbackRequest) check(v *checker) {
	v.required("open_id", r.OpenID)
	v.positive("rollback_score", r.RollbackScore)
	v.int32("rollback_score", r.RollbackScore)
	v.key("change_id", r.ChangeID)
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
	req, err := checkRequest(c, &epScoreRecords, req)
	if err != nil {
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
// the strings of the document's example (docs/spec-notes.md#5).
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
