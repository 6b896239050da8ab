// Package outbox stores sales, returns and score changes durably and delivers
// them to the platform exactly once, in order, whatever the network does: a
// till records its sales while offline and a drainer sends them when the
// gateway answers again.
//
// Each job's key is fixed when it is enqueued: the order_no of an order, the
// change_id of a score change (generated once with ump.NewChangeID when
// empty, stored with the job, never generated again). Before each delivery
// attempt the store records that the attempt began. The first attempt sends
// with SyncConsume, SyncRefund or Score.Change; every later attempt of a job
// that may have reached the gateway settles it with ResolveConsume,
// ResolveRefund or Score.Resolve, which send again under the same key and
// read a duplicate as "already applied". So a process killed at any point
// neither loses nor doubles a sale.
//
// Failures are sorted by ump.Retryable: a retryable one keeps the job queued
// with backoff, an unknown outcome is settled on the next attempt, and a
// refusal moves the job to the dead letters with the platform's code and
// message, where an operator retries or drops it (see cmd/ump's "outbox"
// commands).
//
// The relies on the gateway refusing an order_no it has seen (150002),
// which the document does not promise; see Order.ResolveConsume.
package outbox

import (
	"context"
	"fmt"
	"time"

	ump "github.com/greedc/ump-go"
)

// Outbox is the till's side of a store: enqueue, look, retry, drop. It is
// safe for concurrent use if its Store is.
type Outbox struct {
	store Store
	now   func() time.Time
}

// Option configures an Outbox.
type Option func(*Outbox)

// WithClock sets the clock that stamps EnqueuedAt (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *Outbox) { o.now = now } }

// New returns an Outbox on store.
func New(store Store, opts ...Option) *Outbox {
	o := &Outbox{store: store, now: time.Now}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Store returns the outbox's store.
func (o *Outbox) Store() Store { return o.store }

// EnqueueConsume stores a sale for delivery and returns its job. The sale is
// checked with the SDK's validation first (a bad one is a
// *ump.ValidationError and nothing is stored); when it returns nil the job
// is on disk (or in Redis). Nothing is sent.
func (o *Outbox) EnqueueConsume(ctx context.Context, req *ump.ConsumeOrderRequest) (*Job, error) {
	if req == nil {
		req = &ump.ConsumeOrderRequest{}
	}
	r := *req
	return o.add(ctx, &Job{Kind: KindConsume, Consume: &r})
}

// EnqueueRefund stores a return, like EnqueueConsume. It is delivered after
// its sale (ParentOrderNo) when the sale is queued too.
func (o *Outbox) EnqueueRefund(ctx context.Context, req *ump.RefundOrderRequest) (*Job, error) {
	if req == nil {
		req = &ump.RefundOrderRequest{}
	}
	r := *req
	return o.add(ctx, &Job{Kind: KindRefund, Refund: &r})
}

// EnqueueScoreChange stores a score change, like EnqueueConsume. An empty
// ChangeID is filled with ump.NewChangeID once, here; the job (and the
// store) keeps it, and it is never generated again. req is not modified:
// read the change_id from the job.
func (o *Outbox) EnqueueScoreChange(ctx context.Context, req *ump.ScoreChangeRequest) (*Job, error) {
	if req == nil {
		req = &ump.ScoreChangeRequest{}
	}
	r := *req
	if r.ChangeID == "" {
		r.ChangeID = ump.NewChangeID()
	}
	return o.add(ctx, &Job{Kind: KindScoreChange, Change: &r})
}

// Import stores a job exported from another store (boltstore.Export, "ump
// outbox export"): queued again with its request, key, Resend and attempt
// history, under a new ID. The job is validated like a new one.
func (o *Outbox) Import(ctx context.Context, job *Job) (*Job, error) {
	j := job.Clone()
	j.ID, j.Seq, j.State, j.NextAttempt = "", 0, StateQueued, time.Time{}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	if err := o.store.Add(ctx, j); err != nil {
		return nil, fmt.Errorf("outbox: not imported: %s: %w", j.Key(), err)
	}
	return j, nil
}

func (o *Outbox) add(ctx context.Context, j *Job) (*Job, error) {
	if err := j.Validate(); err != nil {
		return nil, err
	}
	j.State = StateQueued
	j.EnqueuedAt = o.now()
	// Stores keep the JSON form; adding a copy keeps the caller's slices
	// (materials, settlements) out of the store's hands.
	j = j.Clone()
	if err := o.store.Add(ctx, j); err != nil {
		return nil, fmt.Errorf("outbox: not queued: %s: %w", j.Key(), err)
	}
	return j, nil
}

// Pending counts the jobs waiting for delivery (dead letters excluded).
func (o *Outbox) Pending(ctx context.Context) (int, error) {
	s, err := o.store.Stats(ctx)
	return s.Queued, err
}

// OldestAge is how long the oldest pending job has waited; zero if none.
func (o *Outbox) OldestAge(ctx context.Context) (time.Duration, error) {
	s, err := o.store.Stats(ctx)
	if err != nil || s.Oldest.IsZero() {
		return 0, err
	}
	return o.now().Sub(s.Oldest), nil
}

// DeadLetters lists the jobs the platform refused, each with its Code and
// Message, oldest first.
func (o *Outbox) DeadLetters(ctx context.Context) ([]*Job, error) {
	return o.store.List(ctx, StateDead, 0)
}

// Retry puts dead jobs back in the queue, due now, in their original order
// (fix the cause first, such as creating the member). It returns how many
// were dead.
func (o *Outbox) Retry(ctx context.Context, ids ...string) (int, error) {
	return o.store.Requeue(ctx, ids...)
}

// Drop deletes dead jobs for good. It returns how many were dead.
func (o *Outbox) Drop(ctx context.Context, ids ...string) (int, error) {
	return o.store.Drop(ctx, ids...)
}
