// Package ump is the Go SDK for the Gree Real Estate member open platform
// (格力地产会员开放平台): typed calls for the gateway's nineteen methods, with
// signing, access tokens shared safely across processes, retries that never
// apply a call twice, and errors that carry the platform's own codes.
//
// A Client is built once with NewClient and shared; it is safe for
// concurrent use:
//
//	c, err := ump.NewClient(appID, appSecret, ump.WithBaseURL(baseURL))
//	m, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: "13800000000"})
//
// Package umptest provides an in-process gateway for tests.
//
// # Retries and unknown outcomes
//
// Every attempt gets a fresh timestamp and sign over the same body bytes. An
// attempt that failed before its request was written (DNS, dial) is always
// sent again. Otherwise it ended with a definite answer (success or a
// refusal, returned as it is), with "system busy" (code 500, or the 1001 of
// 3.6 and 3.7), or with no definite answer (a timeout, a reset, HTTP
// 502/503/504, a proxy's page, a cut-off answer: the gateway may have
// applied the call). What follows depends on the call's retry
// class, each call's stated here once:
//
//	class      calls                                   busy        no definite answer
//	safe       Member.Get, GetByCode, GenerateCode,    sent again  sent again
//	           ListLevels, Score.Records,
//	           Coupon.SyncStatus, ListUserCoupons
//	keyed      Score.Change, Resolve, Rollback,        sent again  sent again; unknown outcome
//	           ResolveRollback, Order.ResolveConsume,              if the retries end after it
//	           ResolveRefund
//	never      Member.Create, Order.SyncConsume,       returned    unknown outcome
//	           SyncRefund, Coupon.CreateTemplate,
//	           Give, Verify, SMS.SendCode, VerifyCode,
//	           Client.Raw, the token calls
//
// "Sent again" follows the RetryPolicy (WithRetry) and ends when the
// context ends. An unknown outcome is an *OutcomeUnknownError
// (errors.Is(err, ErrOutcomeUnknown)): nobody knows whether the call
// applied, so it must be settled, not simply sent again. Its Key names the
// request where it has one: "order_no=..." (settle with
// Order.ResolveConsume or ResolveRefund, which send the same order_no again
// and read a duplicate answer, 150002, as "it had applied") or
// "change_id=..." (Score.Resolve, Score.ResolveRollback, which do the same
// with the change_id).
//
// A write the gateway answered success for, whose data could not be read,
// returns an error matching ErrAppliedUnreadable (with what did decode): it
// was applied; Retryable is false. Calls without a key (member creation, coupon give and
// verify, SMS) are settled by looking first: Member.Get by phone,
// Coupon.AllUserCoupons.
//
// # Score changes: exactly once
//
// The gateway deduplicates score changes and rollbacks on change_id
// (docs/spec-notes.md#20): a change_id it holds is refused with 150002.
// When a change gets no definite answer, or "system busy", Change sends the
// same bytes again under the same change_id until a definite answer:
// success (applied now; a late copy of the earlier attempt is then refused
// as a duplicate) or 150002, which after such an attempt means it applied
// (AlreadyApplied, no statement_id). Change never rolls back and never
// invents a change_id: the document's own remedy (3.4: roll back by
// change_id, then change again under a new id) applies the points twice
// when the gateway commits the first attempt after the rollback found
// nothing. If the retries or the context end first, the error is a
// *ScoreChangeUnresolvedError whose Request Score.Resolve finishes later,
// from any process; Resolve reads 150002 as "it had applied".
//
// 150002 on the first send of a Change or Rollback means the change_id was
// used before, by another call: nothing moved, and the error matches
// ErrAlreadyExists. A rollback after a change that answered takes a new
// change_id (NewChangeID). A change_id is printable ASCII.
//
// # Tokens
//
// The platform issues one fresh token and 20 refreshes per app per Beijing
// day; an access token lives two hours. The SDK refreshes shortly before
// expiry (WithTokenRefreshWindow), lets one goroutine (and, through a
// shared TokenStore, one process) renew while the others keep the current
// token, counts every token call before making it and stops short of the
// limit (WithTokenBudget, ErrTokenBudgetExhausted), and after a rejected
// token (HTTP 401, or WithTokenInvalidCodes) refreshes once and sends the
// call once more. A token call refused before it could issue a token (an
// error envelope, a proxy's error page, never sent) gives its count back,
// and after any failed token call every process sharing the store waits,
// a minute doubling to an hour (ErrTokenCallsPaused). It obtains a fresh
// token only when no usable refresh token exists or the gateway refused
// the refresh token, once a day. docs/token-troubleshooting.md lists what
// goes wrong and the ump command that repairs it.
//
// # Clock
//
// Timestamps, token expiry and the Beijing day of the token budget come
// from the client's clock (WithClock; time.Now by default). The gateway
// refuses a timestamp more than 3 s off its own (Beijing) time, and names
// no code for that refusal, so the SDK measures the gateway's clock instead
// of guessing from codes. Every answer's Date header, refusals included,
// bounds the offset (gateway minus local): the gateway's time, truncated to
// the second, was read between the request's send and the answer's
// receipt, so the offset lies in [Date - received, Date + 1s - sent]. The
// client intersects these intervals, restarting from the newest when one
// misses (a clock moved), and skips answers with an Age header or a round
// trip over 2 s. Client.ClockOffset is the middle of the interval.
//
// Timestamps are the local clock plus that offset. A refused call (other
// than "system busy", which the retry class handles) whose timestamp was,
// by the measurement its own answer may have just made, more than 2 s off
// is re-stamped, re-signed and sent once more: the gateway checks the
// timestamp before it applies anything, so the resend is safe for every
// call, writes and token calls included, and is not a retry (the token
// budget sees one call). The first call of a process whose clock is
// off is therefore refused once and then goes through. With
// WithClockSkewCorrection(false) the offset is still measured, a refusal of
// a timestamp measured more than 3 s off matches ErrClockSkew and names
// the offset, and nothing is sent again. Without any Date header (a proxy
// strips it) nothing is measured, and a refusal that may be a bad
// timestamp says the clock could not be checked. An offset over 1 s is
// logged at WARN once per change, not per call.
package ump
