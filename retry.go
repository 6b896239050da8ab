package ump

import (
	"math/rand/v2"
	"time"
)

// RetryPolicy says how often and how patiently a call is sent again after a
// failure its retry class allows to repeat (see the package documentation,
// "Retries and unknown outcomes"). Waits grow exponentially from
// InitialBackoff, are capped at MaxBackoff and jittered to [d/2, d); a wait
// ends early when the call's context ends.
//
// The policy also bounds the resolution of a score change: at most
// MaxAttempts sends of the change.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first included (>= 1).
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt.
	InitialBackoff time.Duration
	// MaxBackoff caps each wait.
	MaxBackoff time.Duration
}

// DefaultRetryPolicy makes up to three attempts, waiting about 100 ms and
// 200 ms between them.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 3, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}

// backoff returns the jittered wait before attempt n+1 (n >= 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// retryClass says when the request path may send a call again. Every
// endpoint has exactly one; the table in doc.go lists each call's class.
//
// An attempt ends in one of four ways: a definite answer (success or a
// refusal), "not sent" (DNS or dial failed: nothing reached the gateway),
// "system busy" (code 500, or a call's own code for it: a refusal, though
// one to a keyed write may have applied all the same) or
// "ambiguous" (a timeout, a reset, a proxy's error page, a cut-off answer:
// the gateway may have applied the call). The class decides what follows the
// last three; "not sent" is repeated for every class.
type retryClass uint8

const (
	// retryNever is a write the gateway does not deduplicate, so a second
	// copy could apply twice: "system busy" is returned as it is, and an
	// ambiguous failure ends the call as an *OutcomeUnknownError. It is
	// the zero value, so an endpoint that names no class is never repeated.
	retryNever retryClass = iota
	// retrySafe is a read, or a write that applying twice changes nothing
	// (setting a coupon's status): repeated after "system busy" and after
	// ambiguous failures.
	retrySafe
	// retryKeyed is a write the gateway deduplicates on a key (a score
	// change's or rollback's change_id, an order_no sent again to resolve
	// it): repeated like retrySafe, the same bytes under the same key. Once
	// an attempt may have applied (an ambiguous one, or one answered
	// "system busy", which may have applied all the same), a duplicate
	// answer (150002) means that attempt applied (see earlierAttemptError),
	// and any other failure proves nothing about it, so the call ends as an
	// *OutcomeUnknownError instead of that failure.
	retryKeyed
)

// repeatsBusy reports whether "system busy" is sent again.
func (rc retryClass) repeatsBusy() bool { return rc != retryNever }

// repeatsAmbiguous reports whether a failure that may have applied is sent
// again: only when a second copy cannot apply twice.
func (rc retryClass) repeatsAmbiguous() bool { return rc == retrySafe || rc == retryKeyed }

// String names the class as doc.go's table does.
func (rc retryClass) String() string {
	switch rc {
	case retrySafe:
		return "safe"
	case retryKeyed:
		return "keyed"
	}
	return "never"
}
