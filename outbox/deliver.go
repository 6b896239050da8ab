package outbox

import (
	"context"
	"errors"
	"fmt"

	ump "github.com/greedc/ump-go"
)

// Receipt is the platform's answer to a delivered job.
type Receipt struct {
	// StatementID identifies the points movement (empty when
	// AlreadyApplied).
	StatementID string `json:"statement_id,omitempty"`
	// ChangeID is the change_id under which a score change applied.
	ChangeID string `json:"change_id,omitempty"`
	// AlreadyApplied: a resend found the job applied by an earlier attempt.
	AlreadyApplied bool `json:"already_applied,omitempty"`
}

// Deliver makes one delivery attempt of job through c, for those who run
// their own job engine (River, asynq, a Kubernetes job) instead of a Drainer.
//
// Record that the attempt begins before calling it, and set job.Resend when
// an earlier attempt of the same job began (with River: job.Attempt > 1):
// a resend settles the job with ResolveConsume, ResolveRefund or
// Score.Resolve, which send again under the same key and read "already
// exists" as applied. Never send a job for the first time with Resend set
// when its key could have been used by another request: a duplicate then
// reads as applied.
//
// On error, use ump.Retryable: true means keep the job and try again later
// (with Resend set); false means the platform refused it (a *ump.APIError:
// set it aside) or the job is invalid (a *ump.ValidationError). Deliver
// never changes the job's key.
func Deliver(ctx context.Context, c *ump.Client, job *Job) (*Receipt, error) {
	switch {
	case job.Kind == KindConsume && job.Consume != nil:
		send := c.Order.SyncConsume
		if job.Resend {
			send = c.Order.ResolveConsume
		}
		r, err := send(ctx, job.Consume)
		if err != nil {
			return nil, err
		}
		return &Receipt{StatementID: r.StatementID, AlreadyApplied: r.AlreadyApplied}, nil
	case job.Kind == KindRefund && job.Refund != nil:
		send := c.Order.SyncRefund
		if job.Resend {
			send = c.Order.ResolveRefund
		}
		r, err := send(ctx, job.Refund)
		if err != nil {
			return nil, err
		}
		return &Receipt{StatementID: r.StatementID, AlreadyApplied: r.AlreadyApplied}, nil
	case job.Kind == KindScoreChange && job.Change != nil:
		send := c.Score.Change
		if job.Resend {
			send = c.Score.Resolve
		}
		r, err := send(ctx, job.Change)
		if err != nil {
			return nil, err
		}
		return &Receipt{StatementID: r.StatementID, ChangeID: r.ChangeID, AlreadyApplied: r.AlreadyApplied}, nil
	}
	return nil, fmt.Errorf("outbox: job %s: %w", job.ID, job.Validate())
}

// mayHaveReached reports whether a failed attempt may have reached the
// gateway. Only a failure that proves nothing was sent says no: the SDK
// returns an *ump.OutcomeUnknownError for every call that may have been
// applied, and any answer from the gateway (an *ump.APIError, "system busy"
// included, which issue #13 treats as possibly applied) came from it.
func mayHaveReached(err error) bool {
	if err == nil || errors.Is(err, ump.ErrOutcomeUnknown) {
		return true
	}
	var apiErr *ump.APIError
	return errors.As(err, &apiErr)
}

// unreachable reports a failure that no job can get past for now and that
// is no job's fault: the gateway cannot be reached (a transport failure
// with no answer from it), or no access token can be had.
func unreachable(err error) bool {
	if refusal(err) != nil || errors.Is(err, ump.ErrOutcomeUnknown) {
		return false
	}
	var te *ump.TransportError
	return errors.As(err, &te) || errors.Is(err, ump.ErrNoToken) || errors.Is(err, ump.ErrTokenBudgetExhausted)
}
