package outbox

import (
	"context"
	"errors"
	"time"
)

// Store keeps jobs durably and hands them out in order. Two implementations
// come with the SDK: boltstore (one file, the default for a till) and
// redisstore (Redis Streams, for a fleet of drainers). outboxtest.Run checks
// that a Store keeps the contract below; run it on your own (a SQL table
// written in the same transaction as the sale is the obvious next one).
//
// The rules every Store keeps:
//   - Add is durable when it returns nil, and refuses a key (Job.Key) that a
//     queued or dead job holds with ErrDuplicateKey.
//   - Claim leases to the caller only jobs that are queued or sending, due
//     (NextAttempt not after now), the lowest Seq of their member (Job.Member;
//     dead jobs do not count) and not waiting for a queued sale (Job.WaitsFor),
//     and not leased to anyone else. A lease lasts until Update releases it,
//     or, in a store shared between processes, until its holder is gone.
//   - Update persists a leased job's new state: StateSending and StateQueued
//     keep it queued (StateQueued releases the lease), StateDead moves it to
//     the dead letters, StateDelivered removes it. It fails with ErrLeaseLost
//     when the caller no longer holds the lease, and then changes nothing.
//     Every Update but StateSending ends the lease, even one that fails: the
//     job is then claimed again as last stored, which is safe to deliver
//     from (an attempt recorded as begun is settled by resending).
type Store interface {
	// Add stores a new job, setting its ID and Seq.
	Add(ctx context.Context, job *Job) error
	// Claim leases up to max jobs ready at now, lowest Seq first.
	Claim(ctx context.Context, now time.Time, max int) ([]*Job, error)
	// Update persists a leased job's state (see above).
	Update(ctx context.Context, job *Job) error
	// List returns up to limit jobs in state (StateQueued lists queued and
	// sending jobs), lowest Seq first; limit <= 0 means all.
	List(ctx context.Context, state State, limit int) ([]*Job, error)
	// Stats counts the jobs.
	Stats(ctx context.Context) (Stats, error)
	// Requeue moves dead jobs back to the queue, due now, keeping their Seq
	// and Resend; it returns how many moved (ids not dead are skipped).
	Requeue(ctx context.Context, ids ...string) (int, error)
	// Drop deletes dead jobs for good; it returns how many (ids not dead are
	// skipped).
	Drop(ctx context.Context, ids ...string) (int, error)
	// Close releases the store.
	Close() error
}

// Stats counts a store's jobs.
type Stats struct {
	// Queued counts the jobs waiting for delivery, sending ones included.
	Queued int `json:"queued"`
	// Dead counts the dead letters.
	Dead int `json:"dead"`
	// Oldest is when the oldest queued job was enqueued (zero if none).
	Oldest time.Time `json:"oldest,omitzero"`
}

// Errors a Store returns.
var (
	// ErrDuplicateKey: a queued or dead job already holds the order_no or
	// change_id.
	ErrDuplicateKey = errors.New("outbox: a job with this key is already stored")
	// ErrLeaseLost: the job is no longer leased to the caller (another
	// drainer took it over, or it was delivered or dropped).
	ErrLeaseLost = errors.New("outbox: job no longer leased to this drainer")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("outbox: store closed")
)
