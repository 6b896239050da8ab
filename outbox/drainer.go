package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	ump "github.com/greedc/ump-go"
)

// Errors DrainOnce returns; the jobs stay queued.
var (
	// ErrUnreachable: the gateway cannot be reached, or no access token can
	// be had (the day's budget is spent, the token store is empty).
	ErrUnreachable = errors.New("outbox: gateway unreachable")
	// ErrStalled: the last attempts all failed and could be tried again
	// (see WithStallLimit).
	ErrStalled = errors.New("outbox: no progress")
)

// Drainer delivers a store's jobs: concurrently across members, one at a
// time and in order within a member, a return after its sale. While the
// gateway cannot be reached it probes with one job at a time instead of
// spending attempts on every job. It is safe for concurrent use; run one
// Drainer per process (several processes may share a Redis store).
type Drainer struct {
	store  Store
	client *ump.Client
	cfg    drainerConfig

	mu    sync.Mutex
	state DrainerState

	reportedAt time.Time // the loop's last report to the client's hooks
}

// reportEvery spaces the queue state handed to the client's OutboxState
// hook: a store read per second at most, whatever the delivery rate.
const reportEvery = time.Second

// maxProbeWait caps the wait between probes of an unreachable gateway, so
// that a till back online is noticed within a minute.
const maxProbeWait = time.Minute

type drainerConfig struct {
	concurrency    int
	minBackoff     time.Duration
	maxBackoff     time.Duration
	poll           time.Duration
	attemptTimeout time.Duration
	stallLimit     int
	log            *slog.Logger
	now            func() time.Time
	observe        func(Event)
}

// DrainerOption configures a Drainer.
type DrainerOption func(*drainerConfig)

// WithConcurrency sets how many members' jobs are delivered at once
// (default 4).
func WithConcurrency(n int) DrainerOption {
	return func(c *drainerConfig) { c.concurrency = max(1, n) }
}

// WithBackoff sets the wait before a failed job is tried again: min after
// the first failure, doubling up to max, jittered (default 1s to 5m). The
// probes of an unreachable gateway back off the same way, up to max or a
// minute, whichever is less.
func WithBackoff(minWait, maxWait time.Duration) DrainerOption {
	return func(c *drainerConfig) { c.minBackoff, c.maxBackoff = minWait, max(minWait, maxWait) }
}

// WithPollInterval sets how often Run looks for new or due jobs when there is
// nothing to do (default 1s).
func WithPollInterval(d time.Duration) DrainerOption { return func(c *drainerConfig) { c.poll = d } }

// WithAttemptTimeout bounds one delivery attempt, the SDK's own retries
// included (default 30s). With a Redis store keep it well under the store's
// claim idle time.
func WithAttemptTimeout(d time.Duration) DrainerOption {
	return func(c *drainerConfig) { c.attemptTimeout = d }
}

// WithStallLimit makes DrainOnce give up, with ErrStalled, after n attempts
// in a row failed and could be tried again (default 20): a gateway that
// answers but refuses everything for now, such as every call "system busy".
// Run never gives up.
func WithStallLimit(n int) DrainerOption { return func(c *drainerConfig) { c.stallLimit = max(1, n) } }

// WithLogger sets the logger: a delivered job at DEBUG, a retry at INFO, a
// dead letter and an unreachable gateway at WARN (default: none).
func WithLogger(l *slog.Logger) DrainerOption { return func(c *drainerConfig) { c.log = l } }

// WithDrainerClock sets the clock (default time.Now).
func WithDrainerClock(now func() time.Time) DrainerOption {
	return func(c *drainerConfig) { c.now = now }
}

// WithObserver calls fn after each attempt, from the delivering goroutine
// (keep it quick): for progress bars, metrics and tests.
func WithObserver(fn func(Event)) DrainerOption { return func(c *drainerConfig) { c.observe = fn } }

// Event is the end of one delivery attempt.
type Event struct {
	Job *Job
	// Outcome is what became of the job: StateDelivered, StateQueued (to be
	// tried again) or StateDead.
	Outcome State
	Receipt *Receipt
	Err     error
}

// DrainerState is what a Drainer has seen since it was made.
type DrainerState struct {
	// Delivered, Retried and Dead count the attempts by their outcome.
	Delivered int `json:"delivered"`
	Retried   int `json:"retried"`
	Dead      int `json:"dead"`
	// Unreachable is set while the gateway cannot be reached.
	Unreachable bool `json:"unreachable"`
	// LastError is the text of the last failure, and LastErrorAt its time.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// NewDrainer returns a Drainer delivering store's jobs through client.
func NewDrainer(store Store, client *ump.Client, opts ...DrainerOption) *Drainer {
	cfg := drainerConfig{concurrency: 4, minBackoff: time.Second, maxBackoff: 5 * time.Minute,
		poll: time.Second, attemptTimeout: 30 * time.Second, stallLimit: 20, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return &Drainer{store: store, client: client, cfg: cfg}
}

// State returns a copy of the drainer's counters and last error.
func (d *Drainer) State() DrainerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// Run delivers jobs until ctx ends, then waits for the attempts in progress
// and returns ctx's error. Store failures are logged and retried.
func (d *Drainer) Run(ctx context.Context) error {
	err := d.loop(ctx, false)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// DrainOnce delivers until no job is queued (dead letters aside), waiting
// for the jobs in backoff, and returns what it did. It stops early with
// ErrUnreachable when the gateway cannot be reached, with ctx's error when
// ctx ends, or with a store's error; attempts in progress finish first.
func (d *Drainer) DrainOnce(ctx context.Context) (DrainerState, error) {
	before := d.State()
	err := d.loop(ctx, true)
	after := d.State()
	after.Delivered -= before.Delivered
	after.Retried -= before.Retried
	after.Dead -= before.Dead
	return after, err
}

type attemptResult struct {
	job      *Job
	progress bool  // delivered or dead: the job is settled
	err      error // a store failure
}

func (d *Drainer) loop(ctx context.Context, once bool) error {
	defer d.report(context.WithoutCancel(ctx), true)
	results := make(chan attemptResult)
	inflight := 0
	var wg sync.WaitGroup
	defer wg.Wait()
	probeWait := d.cfg.minBackoff
	var probeAt time.Time
	var storeErr error
	stalled := 0 // attempts in a row that settled nothing

	for {
		if ctx.Err() != nil {
			for ; inflight > 0; inflight-- {
				<-results
			}
			return ctx.Err()
		}
		unreachableNow := d.State().Unreachable
		free := d.cfg.concurrency - inflight
		if unreachableNow {
			free = 0
			if inflight == 0 && !d.cfg.now().Before(probeAt) {
				free = 1 // one job probes the gateway
			}
		}
		var claimed []*Job
		if free > 0 && storeErr == nil {
			var err error
			claimed, err = d.store.Claim(ctx, d.cfg.now(), free)
			if err != nil && ctx.Err() == nil {
				d.cfg.log.LogAttrs(ctx, slog.LevelWarn, "outbox: claiming jobs failed", slog.String("error", err.Error()))
				if once {
					storeErr = err
				}
			}
		}
		for _, j := range claimed {
			inflight++
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.attempt(ctx, j)
				results <- attemptResult{job: j, progress: j.State == StateDelivered || j.State == StateDead, err: err}
			}()
		}
		if inflight == 0 {
			if storeErr != nil {
				return storeErr
			}
			if once {
				if d.State().Unreachable && len(claimed) == 0 && probeAt.IsZero() {
					return d.unreachableError()
				}
				st, err := d.store.Stats(ctx)
				if err != nil {
					return err
				}
				if st.Queued == 0 {
					return nil
				}
			}
		}
		wait := d.cfg.poll
		if unreachableNow && inflight == 0 {
			wait = max(time.Until(probeAt), time.Millisecond)
		}
		if inflight > 0 && len(claimed) > 0 {
			continue // more may be claimable: a job just finished or started
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case r := <-results:
			inflight--
			d.report(ctx, false)
			if r.progress {
				stalled = 0
			} else {
				stalled++
			}
			if once && stalled >= d.cfg.stallLimit && !d.State().Unreachable {
				for ; inflight > 0; inflight-- {
					<-results
				}
				return fmt.Errorf("%w: the last %d attempts failed: %s", ErrStalled, stalled, d.State().LastError)
			}
			if r.err != nil && !errors.Is(r.err, ErrLeaseLost) && ctx.Err() == nil {
				d.cfg.log.LogAttrs(ctx, slog.LevelWarn, "outbox: recording an attempt failed",
					slog.String("job", r.job.ID), slog.String("error", r.err.Error()))
				if once {
					storeErr = r.err
				}
			}
			if d.State().Unreachable {
				if once {
					// A probe failed: report instead of waiting.
					for ; inflight > 0; inflight-- {
						<-results
					}
					return d.unreachableError()
				}
				probeAt = d.cfg.now().Add(jitter(probeWait))
				probeWait = min(probeWait*2, d.cfg.maxBackoff, maxProbeWait)
			} else {
				probeWait, probeAt = d.cfg.minBackoff, time.Time{}
			}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// report hands the queue's state to the client's OutboxState hook (see
// ump.Hooks), at most once per reportEvery unless force is set. A store
// that cannot say is skipped: the next report will.
func (d *Drainer) report(ctx context.Context, force bool) {
	now := d.cfg.now()
	if !force && now.Sub(d.reportedAt) < reportEvery {
		return
	}
	d.reportedAt = now
	st, err := d.store.Stats(ctx)
	if err != nil {
		return
	}
	state := ump.OutboxState{Pending: st.Queued, DeadLetters: st.Dead}
	if !st.Oldest.IsZero() {
		state.OldestAge = now.Sub(st.Oldest)
	}
	d.client.ReportOutboxState(ctx, state)
}

func (d *Drainer) unreachableError() error {
	st := d.State()
	return fmt.Errorf("%w: %s", ErrUnreachable, st.LastError)
}

// attempt delivers one leased job: record the start, send, record the end.
// It returns only a store's failure; the delivery's own goes in the job.
func (d *Drainer) attempt(ctx context.Context, j *Job) error {
	start := d.cfg.now()
	j.Attempts++
	j.LastAttempt = start
	resendBefore := j.Resend
	j.State = StateSending
	// From here on, an attempt may be on its way: a crash before the end
	// is recorded must leave the job to be resent, never sent afresh.
	j.Resend = true
	if err := d.store.Update(ctx, j); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return err
		}
		// Not recorded: do not send. Give the job back untouched if we can.
		j.Attempts--
		j.Resend = resendBefore
		j.State = StateQueued
		_ = d.store.Update(context.WithoutCancel(ctx), j)
		return err
	}
	j.Resend = resendBefore
	actx, cancel := context.WithTimeout(ctx, d.cfg.attemptTimeout)
	receipt, err := Deliver(actx, d.client, j)
	cancel()
	j.Resend = resendBefore || mayHaveReached(err)

	ev := Event{Job: j, Receipt: receipt, Err: err}
	attrs := []slog.Attr{slog.String("job", j.ID), slog.String("key", j.Key()), slog.Int("attempt", j.Attempts)}
	d.mu.Lock()
	switch {
	case err == nil:
		j.State, ev.Outcome = StateDelivered, StateDelivered
		d.state.Delivered++
		d.state.Unreachable = false
	case ump.Retryable(err):
		j.State, ev.Outcome = StateQueued, StateQueued
		j.LastError = errorText(err)
		j.NextAttempt = d.cfg.now().Add(d.backoff(j.Attempts))
		d.state.Retried++
		d.state.Unreachable = unreachable(err)
		d.state.LastError, d.state.LastErrorAt = j.LastError, d.cfg.now()
	default:
		j.State, ev.Outcome = StateDead, StateDead
		j.LastError = errorText(err)
		if apiErr := refusal(err); apiErr != nil {
			j.Code, j.Message = apiErr.Code, apiErr.Message
		}
		d.state.Dead++
		d.state.Unreachable = false
		d.state.LastError, d.state.LastErrorAt = j.LastError, d.cfg.now()
	}
	unreachableNow := d.state.Unreachable
	d.mu.Unlock()
	if unreachableNow {
		// Spent no attempt's worth: the gateway was never reached.
		j.NextAttempt = time.Time{}
	}

	// The end of the attempt is recorded even if ctx ended meanwhile: the
	// gateway's answer is known now and lost otherwise.
	uerr := d.store.Update(context.WithoutCancel(ctx), j)
	switch ev.Outcome {
	case StateDelivered:
		d.cfg.log.LogAttrs(ctx, slog.LevelDebug, "outbox: delivered", append(attrs, slog.Bool("already_applied", receipt.AlreadyApplied))...)
	case StateQueued:
		level := slog.LevelInfo
		if unreachableNow {
			level = slog.LevelWarn
		}
		d.cfg.log.LogAttrs(ctx, level, "outbox: delivery failed, will retry", append(attrs, slog.String("error", j.LastError))...)
	case StateDead:
		d.cfg.log.LogAttrs(ctx, slog.LevelWarn, "outbox: refused, moved to dead letters",
			append(attrs, slog.Int64("code", j.Code), slog.String("error", j.LastError))...)
	}
	if d.cfg.observe != nil && uerr == nil {
		d.cfg.observe(ev)
	}
	return uerr
}

// backoff is the jittered wait after a job's n-th failed attempt.
func (d *Drainer) backoff(n int) time.Duration {
	w := d.cfg.minBackoff
	for i := 1; i < n && w < d.cfg.maxBackoff; i++ {
		w *= 2
	}
	return jitter(min(w, d.cfg.maxBackoff))
}

// jitter spreads w over [w/2, w).
func jitter(w time.Duration) time.Duration {
	if w <= 1 {
		return w
	}
	return w/2 + rand.N(w/2)
}
