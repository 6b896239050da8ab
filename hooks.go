package ump

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/greedc/ump-go/internal/redact"
)

// Hooks are functions the Client calls as its work goes on, in the style of
// net/http/httptrace.ClientTrace: a tracer or a metrics adapter (package
// github.com/greedc/ump-go/umpotel for OpenTelemetry) sets the ones it needs;
// a nil function is skipped, and a Client built without WithHooks does no
// extra work at all.
//
// Hooks are called synchronously, on the goroutine making the call, so a slow
// hook slows the call: record and return. They may be called concurrently
// for concurrent calls. A hook must not call the Client.
//
// Every value handed to a hook is redacted: the app secret, tokens and signs
// never appear in it, phone and identity numbers in error texts are masked,
// and request keys (order_no, change_id) appear only when IncludeKeys is set.
// Errors keep their types, so errors.Is and errors.As work on them; their
// texts are redacted as above, but the values errors.As reaches are the
// SDK's own (a *ScoreChangeUnresolvedError still carries its Request).
type Hooks struct {
	// CallStart is called when a call enters the request path, before its
	// first attempt. The context it returns (nil keeps ctx) is the one the
	// call goes on with: its attempts, the token calls it makes and
	// CallDone see it, so a tracer can start a span here and end it in
	// CallDone.
	CallStart func(ctx context.Context, call CallStartInfo) context.Context
	// CallDone is called once per CallStart, when the call returns.
	CallDone func(ctx context.Context, call CallDoneInfo)
	// AttemptDone is called after each request of a call was sent and
	// answered, or failed.
	AttemptDone func(ctx context.Context, attempt AttemptDoneInfo)
	// TokenCall is called after each budgeted token call (2.1 obtain, 2.2
	// refresh), including one the budget refused before sending. The token
	// call is also a call of its own (CallStart, CallDone), made within the
	// call that needed the token, if any.
	TokenCall func(ctx context.Context, token TokenCallInfo)
	// ClockOffset is called when the client learns the gateway's clock:
	// offset is the gateway's clock minus the local one.
	ClockOffset func(ctx context.Context, offset time.Duration)
	// OutboxState is called when a store-and-forward queue built on the
	// client (package outbox) reports its state; see Client.ReportOutboxState.
	OutboxState func(ctx context.Context, state OutboxState)

	// IncludeKeys hands request keys to hooks: the Key of CallStartInfo and
	// CallDoneInfo ("order_no=A1", "change_id=...") and the keys in error
	// texts. They identify sales and point changes, so they are left out
	// (error texts show "order_no=***") unless set.
	IncludeKeys bool
}

// WithHooks sets the hooks the Client calls; see Hooks. Without it the
// request path does no hook work at all.
func WithHooks(h Hooks) Option {
	return func(s *settings) error {
		s.hooks = nil
		if h.CallStart != nil || h.CallDone != nil || h.AttemptDone != nil || h.TokenCall != nil ||
			h.ClockOffset != nil || h.OutboxState != nil {
			s.hooks = &h
		}
		return nil
	}
}

// CallOutcome is how a call ended, as CallDone reports it.
type CallOutcome uint8

// The outcomes of a call.
const (
	// CallOK: the gateway applied or answered the call.
	CallOK CallOutcome = iota + 1
	// CallAlreadyApplied: the gateway refused the call's key as a
	// duplicate, which proves an earlier copy applied (a score change or
	// rollback sent again after a lost answer, a resolution); the call
	// returns no error.
	CallAlreadyApplied
	// CallResolved: a resolution (Score.Resolve, Score.ResolveRollback,
	// Order.ResolveConsume, Order.ResolveRefund) found the earlier call had
	// not applied, and applied it now, once.
	CallResolved
	// CallRefused: the gateway answered with a refusal (an *APIError).
	CallRefused
	// CallUnknown: the call may have applied and nobody knows
	// (errors.Is(err, ErrOutcomeUnknown)); it must be settled.
	CallUnknown
	// CallNotSent: no request of the call reached the gateway (no token,
	// no connection, the context ended first, the token budget refused).
	CallNotSent
	// CallFailed: the call failed without a refusal and has nothing to
	// settle: a read or a deduplicated call that timed out or got an
	// answer that is no envelope.
	CallFailed
)

var callOutcomeNames = [...]string{CallOK: "ok", CallAlreadyApplied: "already_applied", CallResolved: "resolved",
	CallRefused: "refused", CallUnknown: "unknown", CallNotSent: "not_sent", CallFailed: "failed"}

// String returns the outcome's name: "ok", "already_applied", "resolved",
// "refused", "unknown", "not_sent" or "failed".
func (o CallOutcome) String() string {
	if int(o) < len(callOutcomeNames) && callOutcomeNames[o] != "" {
		return callOutcomeNames[o]
	}
	return "CallOutcome(" + strconv.Itoa(int(o)) + ")"
}

// CallStartInfo describes a call as it starts.
type CallStartInfo struct {
	// Method is the gateway method, such as "wk.user.info.query".
	Method string
	// RetryClass says when the call may be sent again: "safe", "keyed",
	// "busy-only" or "never" (see the package documentation).
	RetryClass string
	// Key names the request ("order_no=A1", "change_id=..."), only when
	// Hooks.IncludeKeys is set; else "".
	Key string
	// ServerAddress and ServerPort are the gateway's host and port.
	ServerAddress string
	ServerPort    int
}

// CallDoneInfo describes a call as it returns.
type CallDoneInfo struct {
	CallStartInfo
	// Outcome is how the call ended.
	Outcome CallOutcome
	// Attempts counts the requests sent for the call; 0 if none was sent.
	Attempts int
	// HTTPStatus and Code are the last answer's HTTP status and the
	// gateway's error code (0 for none).
	HTTPStatus int
	Code       int64
	// Duration is the whole call, retries and waits included.
	Duration time.Duration
	// Err is the error the call returns, redacted as Hooks describes: nil
	// for CallAlreadyApplied and CallResolved, and for CallOK unless the
	// call applied but its answer could not be read (ErrAppliedUnreadable).
	Err error
}

// AttemptDoneInfo describes one request of a call.
type AttemptDoneInfo struct {
	// Method is the gateway method of this request.
	Method string
	// Attempt numbers the requests of the call from 1.
	Attempt int
	// Sent is false when the request failed before it was written (DNS,
	// dial).
	Sent bool
	// HTTPStatus is the answer's status, 0 when none came.
	HTTPStatus int
	// Code is the gateway's error code, 0 for none.
	Code int64
	// Duration is the request's time on the wire.
	Duration time.Duration
	// Err is the attempt's failure, redacted as Hooks describes.
	Err error
	// ServerAddress and ServerPort are the gateway's host and port.
	ServerAddress string
	ServerPort    int
}

// TokenCallInfo describes one budgeted token call.
type TokenCallInfo struct {
	// Kind is TokenObtain or TokenRefresh.
	Kind TokenCall
	// Result is CallOK (a token was issued), CallRefused, CallUnknown,
	// CallNotSent (the budget or the token store refused before sending)
	// or CallFailed.
	Result CallOutcome
	// BudgetLeft is how many calls of Kind the day's budget has left after
	// this one, -1 when the token store could not say.
	BudgetLeft int
	// ExpiresAt is when the issued access token expires (zero unless
	// Result is CallOK).
	ExpiresAt time.Time
	// Duration is the token call, the token store's work included.
	Duration time.Duration
	// Err is the call's error, redacted as Hooks describes.
	Err error
}

// OutboxState is the state of a store-and-forward queue of calls.
type OutboxState struct {
	// Pending counts the queued calls not yet forwarded.
	Pending int
	// OldestAge is how long the oldest pending call has waited.
	OldestAge time.Duration
	// DeadLetters counts the calls given up on, kept for an operator.
	DeadLetters int
}

// ReportOutboxState hands state to the OutboxState hook, if one is set: a
// store-and-forward queue that forwards through the client (package outbox)
// calls it after its state changes. It does nothing without hooks.
func (c *Client) ReportOutboxState(ctx context.Context, state OutboxState) {
	if c.built().hooks != nil && c.hooks.OutboxState != nil {
		c.hooks.OutboxState(ctx, state)
	}
}

// noteClockOffset hands the gateway's clock minus the local clock to the
// ClockOffset hook; the clock-skew measurement calls it when it learns a new
// offset.
func (c *Client) noteClockOffset(ctx context.Context, offset time.Duration) {
	if c.hooks != nil && c.hooks.ClockOffset != nil {
		c.hooks.ClockOffset(ctx, offset)
	}
}

// callTrace follows one call for the hooks. It exists only when hooks are
// set; every method is a no-op on nil, so the request path calls them
// unconditionally.
type callTrace struct {
	c     *Client
	info  CallStartInfo
	start time.Time
	// depth counts the request-path entries sharing this trace: a service
	// method that reads the answer itself (a score change, a resolution)
	// opens the call, and the request path's entry joins it.
	depth     int
	attempts  int
	sent      bool
	status    int
	code      int64
	resolving bool
	// lastDuplicate: the last entry was refused as a duplicate of its key
	// on a deduplicated endpoint, which its service reads as "applied".
	lastDuplicate bool
}

type callTraceKey struct{}

// openCall starts following a call of ep. Within a call already followed
// (opened by its service method) it joins that call instead; a token
// call is always a call of its own. Every openCall is paired with close;
// markResolving marks a call that settles an earlier unknown outcome.
func (c *Client) openCall(ctx context.Context, ep *endpoint, key string) (context.Context, *callTrace) {
	if c.hooks == nil {
		return ctx, nil // small enough to inline: no call at all without hooks
	}
	return c.traceCall(ctx, ep, key)
}

// traceCall is openCall with hooks set.
func (c *Client) traceCall(ctx context.Context, ep *endpoint, key string) (context.Context, *callTrace) {
	if t, ok := ctx.Value(callTraceKey{}).(*callTrace); ok && t.c == c && t.depth > 0 && ep.cred == credAccessToken {
		t.depth++
		return ctx, t
	}
	t := &callTrace{c: c, depth: 1, start: c.now(), info: CallStartInfo{
		Method: ep.method, RetryClass: ep.retry.String(), ServerAddress: c.serverHost, ServerPort: c.serverPort,
	}}
	if c.hooks.IncludeKeys {
		t.info.Key = key
	}
	if c.hooks.CallStart != nil {
		if next := c.hooks.CallStart(ctx, t.info); next != nil {
			ctx = next
		}
	}
	return context.WithValue(ctx, callTraceKey{}, t), t
}

// hookKey returns name=value, a request key, when the hooks take keys; ""
// (and no allocation) otherwise.
func (c *Client) hookKey(name, value string) string {
	if c.hooks == nil || !c.hooks.IncludeKeys {
		return ""
	}
	return name + "=" + value
}

// markResolving records that the call settles an unknown outcome on
// purpose (Score.Resolve, ResolveRollback, Order's Resolve methods): its
// success reads CallResolved, and a duplicate answer "already applied".
func (t *callTrace) markResolving(resolving bool) {
	if t != nil && resolving {
		t.resolving = true
	}
}

// close ends one entry of the call with err, what that entry returns; the
// last one reports the call to CallDone.
func (t *callTrace) close(ctx context.Context, err error) {
	if t != nil {
		t.end(ctx, err)
	}
}

// end is close with a trace.
func (t *callTrace) end(ctx context.Context, err error) {
	t.depth--
	// A duplicate key proves an earlier copy applied after an attempt of
	// the same call that may have applied, or when the call resends on
	// purpose; the service then returns no error.
	dup := err != nil && (appliedByEarlierAttempt(err) || (t.resolving && errors.Is(err, duplicateKey)))
	if t.depth > 0 {
		t.lastDuplicate = dup
		return
	}
	h := t.c.hooks
	if h.CallDone == nil {
		return
	}
	done := CallDoneInfo{CallStartInfo: t.info, Attempts: t.attempts, HTTPStatus: t.status, Code: t.code,
		Duration: t.c.now().Sub(t.start)}
	switch {
	case dup || (err == nil && t.lastDuplicate):
		done.Outcome = CallAlreadyApplied // the service returns no error
	case err == nil && t.resolving:
		done.Outcome = CallResolved
	case err == nil:
		done.Outcome = CallOK
	case errors.Is(err, ErrAppliedUnreadable):
		done.Outcome = CallOK // applied; the answer could not be read
		done.Err = t.c.hookError(err)
	default:
		done.Outcome = outcomeOf(err, t.sent)
		done.Err = t.c.hookError(err)
	}
	h.CallDone(ctx, done)
}

// attemptDone reports one request of the call that ctx follows; the request
// path calls it wherever it logs an attempt.
func (c *Client) attemptDone(ctx context.Context, ep *endpoint, start time.Time, status int, code int64, err error) {
	t, _ := ctx.Value(callTraceKey{}).(*callTrace)
	sent := status != 0 || err == nil || !isNotSent(err)
	if t != nil {
		t.attempts++
		t.sent = t.sent || sent
		t.status, t.code = status, code
	}
	if c.hooks.AttemptDone == nil {
		return
	}
	a := AttemptDoneInfo{Method: ep.method, Sent: sent, HTTPStatus: status, Code: code, Duration: c.now().Sub(start),
		Err: c.hookError(err), ServerAddress: c.serverHost, ServerPort: c.serverPort}
	if t != nil {
		a.Attempt = t.attempts
	}
	c.hooks.AttemptDone(ctx, a)
}

// tokenCallDone reports a budgeted token call of kind that started at start;
// spent is the day's count of kind after it (-1: the store did not say),
// sent whether the call was sent, expireIn the issued token's lifetime.
func (s *AuthService) tokenCallDone(ctx context.Context, kind TokenCall, start time.Time, spent int, sent bool, expireIn time.Duration, err error) {
	c := s.client
	if c.hooks == nil || c.hooks.TokenCall == nil {
		return
	}
	perDay := s.budget.ObtainsPerDay
	if kind == TokenRefresh {
		perDay = s.budget.RefreshesPerDay
	}
	info := TokenCallInfo{Kind: kind, Result: CallOK, BudgetLeft: -1, Duration: c.now().Sub(start), Err: c.hookError(err)}
	if spent >= 0 {
		info.BudgetLeft = max(perDay-spent, 0)
	}
	switch {
	case !sent:
		info.Result = CallNotSent
	case err != nil:
		info.Result = outcomeOf(err, true)
	default:
		info.ExpiresAt = start.Add(expireIn)
	}
	c.hooks.TokenCall(ctx, info)
}

// outcomeOf classifies a call's error; sent says whether any request of the
// call may have reached the gateway.
func outcomeOf(err error, sent bool) CallOutcome {
	var apiErr *APIError
	switch {
	case errors.Is(err, ErrOutcomeUnknown):
		return CallUnknown
	case errors.As(err, &apiErr):
		return CallRefused
	case !sent:
		return CallNotSent
	}
	var te *TransportError
	if errors.As(err, &te) && isNotSent(te.Err) {
		return CallNotSent
	}
	return CallFailed
}

// keyInText matches a request key in an error text.
var keyInText = regexp.MustCompile(`\b(order_no|change_id|parent_order_no|out_biz_no)=[^\s),;]+`)

// hookError is an error handed to a hook: its text redacted, its chain the
// SDK's own.
type hookError struct {
	err error
	msg string
}

func (e *hookError) Error() string { return e.msg }
func (e *hookError) Unwrap() error { return e.err }

// hookError redacts err for the hooks: credentials and personal data out of
// its text, and request keys unless the hooks include them.
func (c *Client) hookError(err error) error {
	if err == nil {
		return nil
	}
	msg := redact.Text(err.Error(), c.appSecret)
	if !c.hooks.IncludeKeys {
		msg = keyInText.ReplaceAllString(msg, "${1}=***")
	}
	return &hookError{err: err, msg: msg}
}

// splitServer returns the host and port of base for the hooks.
func splitServer(base string) (string, int) {
	u, err := url.Parse(base)
	if err != nil {
		return "", 0
	}
	portText := u.Port()
	if portText == "" {
		portText = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	port, _ := strconv.Atoi(portText)
	return u.Hostname(), port
}
