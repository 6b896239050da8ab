package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	ump "github.com/greedc/ump-go"
)

// Kind says which call a job makes.
type Kind string

// The kinds of job.
const (
	KindConsume     Kind = "consume"      // a sale: Order.SyncConsume (4.1)
	KindRefund      Kind = "refund"       // a return: Order.SyncRefund (4.2)
	KindScoreChange Kind = "score_change" // a points change: Score.Change (3.3)
)

// State is where a job stands.
type State string

// The states a store keeps, and StateDelivered, which a store is told (Update)
// but never keeps: a delivered job is removed.
const (
	// StateQueued waits for delivery.
	StateQueued State = "queued"
	// StateSending: an attempt began and has not ended. A job found in this
	// state after a crash may have reached the gateway; it is claimed like a
	// queued job and settled with the Resolve methods.
	StateSending State = "sending"
	// StateDead: the platform refused the job; it waits for an operator
	// (Outbox.Retry, Outbox.Drop).
	StateDead State = "dead"
	// StateDelivered: the platform has the job; the store removes it.
	StateDelivered State = "delivered"
)

// Job is one sale, return or score change on its way to the platform, with
// the state of its delivery. Exactly one of Consume, Refund and Change is set,
// as Kind says. Jobs are JSON, and stores keep them as such.
type Job struct {
	// ID identifies the job in its store (set by Store.Add).
	ID string `json:"id"`
	// Seq orders jobs by enqueueing (set by Store.Add): a member's jobs
	// are delivered in Seq order.
	Seq int64 `json:"seq"`

	// Kind says which of the three requests is set.
	Kind Kind `json:"kind"`
	// Consume is a sale (KindConsume).
	Consume *ump.ConsumeOrderRequest `json:"consume,omitempty"`
	// Refund is a return (KindRefund).
	Refund *ump.RefundOrderRequest `json:"refund,omitempty"`
	// Change is a score change (KindScoreChange); its ChangeID is fixed.
	Change *ump.ScoreChangeRequest `json:"change,omitempty"`

	// EnqueuedAt is when the job was enqueued.
	EnqueuedAt time.Time `json:"enqueued_at"`
	// State is where the job stands.
	State State `json:"state"`
	// Attempts counts the delivery attempts begun.
	Attempts int `json:"attempts,omitempty"`
	// Resend is set once an attempt began that did not end with proof that
	// nothing reached the gateway: every later attempt settles the job with
	// ResolveConsume, ResolveRefund or Score.Resolve, which send again under
	// the same key and read "already exists" as "applied earlier".
	Resend bool `json:"resend,omitempty"`
	// NextAttempt is when the job is due again after a failure.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastAttempt is when the last attempt began.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is the text of the last failure (phone numbers masked, as
	// in every SDK error).
	LastError string `json:"last_error,omitempty"`
	// Code and Message are the platform's refusal of a dead job (Code 0 if
	// the refusal was not the platform's, such as an invalid stored job).
	Code    int64  `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Key is the key the platform deduplicates the job on: "order_no=..." or
// "change_id=...", as in ump.OutcomeUnknownError.Key.
func (j *Job) Key() string {
	switch j.Kind {
	case KindConsume:
		if j.Consume != nil {
			return "order_no=" + j.Consume.OrderNo
		}
	case KindRefund:
		if j.Refund != nil {
			return "order_no=" + j.Refund.OrderNo
		}
	case KindScoreChange:
		if j.Change != nil {
			return "change_id=" + j.Change.ChangeID
		}
	}
	return ""
}

// Member names the member whose jobs are delivered one at a time, in
// order: the open_id when the request has one, otherwise the phone (a score
// change's OpenID field holds either). Give a member's jobs the same
// identifier to keep them in order.
func (j *Job) Member() string {
	var openID, phone string
	switch {
	case j.Consume != nil:
		openID, phone = j.Consume.OpenID, j.Consume.Phone
	case j.Refund != nil:
		openID, phone = j.Refund.OpenID, j.Refund.Phone
	case j.Change != nil:
		openID = j.Change.OpenID
	}
	if openID = strings.TrimSpace(openID); openID != "" {
		return openID
	}
	return strings.TrimSpace(phone)
}

// SaleNo is the order_no of a sale, which a return of it waits for; empty for
// other jobs.
func (j *Job) SaleNo() string {
	if j.Kind == KindConsume && j.Consume != nil {
		return j.Consume.OrderNo
	}
	return ""
}

// WaitsFor is the order_no of the sale a return takes back: the return is
// not delivered while that sale is queued, whoever its member. Empty for
// other jobs.
func (j *Job) WaitsFor() string {
	if j.Kind == KindRefund && j.Refund != nil {
		return j.Refund.ParentOrderNo
	}
	return ""
}

// Validate checks the job's request with the SDK's own validation (the
// checks the service call makes before sending) and that Kind matches the
// request set.
func (j *Job) Validate() error {
	n := 0
	for _, set := range []bool{j.Consume != nil, j.Refund != nil, j.Change != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("outbox: job %s: want exactly one request, have %d", j.ID, n)
	}
	switch {
	case j.Kind == KindConsume && j.Consume != nil:
		return j.Consume.Validate()
	case j.Kind == KindRefund && j.Refund != nil:
		return j.Refund.Validate()
	case j.Kind == KindScoreChange && j.Change != nil:
		return j.Change.Validate()
	}
	return fmt.Errorf("outbox: job %s: kind %q does not match its request", j.ID, j.Kind)
}

// Clone returns a deep copy of the job (through JSON, the form stores keep).
func (j *Job) Clone() *Job {
	b, err := json.Marshal(j)
	if err != nil {
		panic("outbox: job does not encode: " + err.Error()) // every field is JSON-safe
	}
	c, err := DecodeJob(b)
	if err != nil {
		panic("outbox: job does not decode: " + err.Error())
	}
	return c
}

// DecodeJob decodes a job as a store keeps it.
func DecodeJob(b []byte) (*Job, error) {
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("outbox: decoding job: %w", err)
	}
	return &j, nil
}

// Age is how long the job has waited since it was enqueued.
func (j *Job) Age(now time.Time) time.Duration { return now.Sub(j.EnqueuedAt) }

// errorText is the text kept in LastError: the SDK's errors mask phone and
// id numbers and never hold secrets.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return strings.TrimPrefix(err.Error(), "ump: ")
}

// refusal returns the platform's refusal inside err, if any.
func refusal(err error) *ump.APIError {
	var apiErr *ump.APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return nil
}
