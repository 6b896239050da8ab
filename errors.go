package ump

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/greedc/ump-go/internal/redact"
)

// APIError is a definite answer from the gateway that the call failed: the
// envelope said success false, or the HTTP status was an error with a gateway
// envelope. It carries the platform's code and message verbatim, because the
// document reuses codes with different meanings (docs/spec-notes.md#14).
//
// Match a documented code with errors.Is and the sentinel for it:
//
//	if errors.Is(err, ump.ErrInsufficientPoints) { ... }
type APIError struct {
	// Method is the gateway method, such as "wk.user.info.query".
	Method string
	// HTTPStatus is the HTTP status code of the answer.
	HTTPStatus int
	// Code is the platform's error_code (0 when the answer carried none).
	Code int64
	// Message is the platform's error_message, verbatim.
	Message string

	tokenInvalid bool
	// clockSkew: the request was stamped more than 3 s off the gateway's
	// measured clock (ErrClockSkew); clockNote says what the clock
	// measurement says about the refusal, if anything (see explain).
	clockSkew bool
	clockNote string
}

// Error implements error. The platform's message is preceded by what the
// code means in English, for the call that answered it (see Is):
// "ump: wk.user.info.query: error 110003 (member not bound): 会员未绑定".
func (e *APIError) Error() string {
	text := "ump: " + e.Method + ": error " + strconv.FormatInt(e.Code, 10)
	if s := sentinelFor(e.Method, e.Code); s != nil {
		text += " (" + s.text + ")"
	}
	if e.Message != "" {
		// The field keeps the message verbatim; the text, which reaches
		// logs, masks the phone or identity number a message may echo.
		text += ": " + redact.Text(e.Message)
	}
	if e.HTTPStatus != 0 && e.HTTPStatus != 200 {
		text += " (HTTP " + strconv.Itoa(e.HTTPStatus) + ")"
	}
	if e.clockNote != "" {
		text += "; " + e.clockNote
	}
	return text
}

// Is reports whether the error carries a code that target stands for, is a
// token rejection and target is ErrTokenInvalid, or refused a timestamp
// measured more than 3 s off the gateway's clock and target is ErrClockSkew.
// Where the call's own table gives the code a meaning of its own (see
// callCodes), the code matches that sentinel only.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrTokenInvalid:
		return e.tokenInvalid
	case ErrClockSkew:
		return e.clockSkew
	}
	s, ok := target.(*codeSentinel)
	return ok && s == sentinelFor(e.Method, e.Code)
}

// codeSentinel stands for one or more documented error codes.
type codeSentinel struct {
	codes []int64
	text  string
}

func (s *codeSentinel) Error() string {
	return "ump: error " + strconv.FormatInt(s.codes[0], 10) + ": " + s.text
}

func code(text string, codes ...int64) error { return &codeSentinel{codes: codes, text: text} }

// One sentinel for every code in the document's error table ("异常返回码归纳").
// An *APIError matches the sentinel of its code under errors.Is. Where a
// call's own table gives a code another meaning (3.6, 3.7), the APIError of
// that call matches the call's meaning instead (docs/spec-notes.md#21): a
// 110001 from Member.GetByCode is ErrMemberCodeExpired, not ErrPhoneEmpty,
// and a 1001 from GenerateCode or GetByCode is ErrSystemBusy.
var (
	ErrSystemBusy               = code("system busy, try again later", 500)
	ErrInvalidParameters        = code("invalid request parameters", 1001)
	ErrPhoneEmpty               = code("phone must not be empty", 110001)
	ErrOpenIDOrPhoneEmpty       = code("open_id or phone must not be empty", 110002)
	ErrMemberNotBound           = code("member not bound", 110003)
	ErrAppNotFound              = code("application not found", 110004, 110005)
	ErrMemberCodeExpired        = code("member code expired", 110006)
	ErrInvalidPhone             = code("invalid phone", 120001)
	ErrOrderNotFound            = code("order not found", 120002)
	ErrCouponCreateFailed       = code("coupon creation failed", 130001)
	ErrCouponNotFound           = code("coupon not found", 130002)
	ErrCouponStatusUpdateFailed = code("coupon status update failed", 130003)
	ErrSMSSendFailed            = code("SMS sending failed", 140001)
	ErrSMSInvalidPhone          = code("invalid phone number for SMS", 140002)
	ErrSMSTargetEmpty           = code("SMS target must not be empty", 140003)
	ErrSMSDailyLimit            = code("daily SMS limit exceeded", 140004)
	ErrSMSCodeWrong             = code("verification code wrong", 140005)
	ErrNoScoreRule              = code("no score rule configured, or it expired", 150001)
	ErrAlreadyExists            = code("unique id already exists", 150002)
	ErrInsufficientPoints       = code("insufficient points", 150003)
	ErrStatementNotFound        = code("score statement not found", 150004)
	ErrStatementDetailNotFound  = code("no score detail for the statement", 150005)
	ErrNoScorePool              = code("no score pool record", 150006)
)

// ErrDuplicateChangeID is ErrAlreadyExists under its first name.
//
// Deprecated: use ErrAlreadyExists. Code 150002 answers every key the
// gateway has seen (a phone, an order_no, a coupon id), not only a change_id.
var ErrDuplicateChangeID = ErrAlreadyExists

// documentedCodes lists each code of the global table with its sentinel;
// tests walk it to prove that every code is mapped.
var documentedCodes = map[int64]error{
	500: ErrSystemBusy, 1001: ErrInvalidParameters,
	110001: ErrPhoneEmpty, 110002: ErrOpenIDOrPhoneEmpty, 110003: ErrMemberNotBound,
	110004: ErrAppNotFound, 110005: ErrAppNotFound, 110006: ErrMemberCodeExpired,
	120001: ErrInvalidPhone, 120002: ErrOrderNotFound,
	130001: ErrCouponCreateFailed, 130002: ErrCouponNotFound, 130003: ErrCouponStatusUpdateFailed,
	140001: ErrSMSSendFailed, 140002: ErrSMSInvalidPhone, 140003: ErrSMSTargetEmpty,
	140004: ErrSMSDailyLimit, 140005: ErrSMSCodeWrong,
	150001: ErrNoScoreRule, 150002: ErrAlreadyExists, 150003: ErrInsufficientPoints,
	150004: ErrStatementNotFound, 150005: ErrStatementDetailNotFound, 150006: ErrNoScorePool,
}

// sentinelFor returns the sentinel that code stands for in an answer to
// method: the call's own meaning where its table gives one (callCodes), the
// global table's otherwise; nil for a code no table lists.
func sentinelFor(method string, code int64) *codeSentinel {
	if s, ok := callCodes[method][code]; ok {
		return s
	}
	s, _ := documentedCodes[code].(*codeSentinel)
	return s
}

// Errors that are not platform codes.
var (
	// ErrTokenInvalid matches an *APIError in which the gateway rejected the
	// access token: HTTP 401, or a code configured with WithTokenInvalidCodes.
	ErrTokenInvalid = errors.New("ump: access token rejected")

	// ErrOutcomeUnknown matches an error after which nobody knows whether the
	// gateway applied the call: the request was written, and no definite
	// answer came back. Reconcile before trying again; see OutcomeUnknownError.
	ErrOutcomeUnknown = errors.New("ump: outcome unknown")

	// ErrTokenBudgetExhausted means the SDK refused to obtain or refresh a
	// token because the day's allowance (one obtain, 20 refreshes, Beijing
	// day) is spent, or is kept back as headroom.
	ErrTokenBudgetExhausted = errors.New("ump: token budget for today exhausted")

	// ErrNoToken means no usable token exists and the SDK may not obtain one
	// by itself: a refresh token is still usable but refreshing failed, or
	// automatic obtaining is off.
	ErrNoToken = errors.New("ump: no usable access token")
)

// ErrAppliedUnreadable matches the error of a write the gateway answered
// success for whose data could not be read: the call was applied, and its
// result is unknown. Do not send it again; look the result up instead. See
// AppliedUnreadableError.
var ErrAppliedUnreadable = errors.New("ump: applied, but the answer could not be read")

// AppliedUnreadableError is returned by a write (member creation, order
// sync, score change or rollback, coupon template, give or verify) that the
// gateway answered success for, but whose data did not decode. The call
// was applied: Retryable is false, and sending it again could apply it
// twice. The method returns, next to this error, whatever of the data did
// decode. errors.Is(err, ErrAppliedUnreadable) holds.
type AppliedUnreadableError struct {
	// Method is the gateway method.
	Method string
	// Err is the *ResponseError with a redacted sample of the answer.
	Err error
}

// Error implements error.
func (e *AppliedUnreadableError) Error() string {
	return "ump: " + e.Method + ": the call was applied, but its answer could not be read (do not send it again): " + e.Err.Error()
}

// Is reports target == ErrAppliedUnreadable.
func (e *AppliedUnreadableError) Is(target error) bool { return target == ErrAppliedUnreadable }

// Unwrap returns the *ResponseError.
func (e *AppliedUnreadableError) Unwrap() error { return e.Err }

// ValidationError reports request fields that break the document's rules. It
// is returned before anything is sent.
type ValidationError struct {
	// Method is the gateway method the request was for.
	Method string
	// Fields lists every bad field, in the order checked.
	Fields []FieldError
}

// FieldError is one bad field: its wire name and what is wrong with it.
type FieldError struct {
	Field  string
	Reason string
}

// Error implements error.
func (e *ValidationError) Error() string {
	reasons := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		reasons[i] = f.Field + ": " + f.Reason
	}
	return "ump: " + e.Method + ": invalid request: " + strings.Join(reasons, "; ")
}

// Has reports whether field is among the bad fields.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// TransportError is a failure to exchange a request with the gateway: DNS,
// dial, TLS, a reset, a timeout, a cancelled context. errors.Is sees through
// it, so errors.Is(err, context.DeadlineExceeded) works. Its text never holds
// the request URL, which carries access_token and sign.
type TransportError struct {
	Method string
	Err    error
}

// Error implements error.
func (e *TransportError) Error() string {
	return "ump: " + e.Method + ": transport: " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// newTransportError strips net/http's *url.Error, whose text holds the full
// URL with access_token and sign, keeping what it wraps.
func newTransportError(method string, err error) *TransportError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &TransportError{Method: method, Err: err}
}

// ResponseError is an answer that is not a gateway envelope: a proxy's HTML
// error page, an empty, truncated, oversized or malformed body.
type ResponseError struct {
	Method     string
	HTTPStatus int
	// Sample is the start of the body, redacted of credentials and personal
	// data, for the log and the error text.
	Sample string
	Err    error
}

// Error implements error.
func (e *ResponseError) Error() string {
	s := fmt.Sprintf("ump: %s: HTTP %d: %v", e.Method, e.HTTPStatus, e.Err)
	if e.Sample != "" {
		s += ": " + strconv.Quote(e.Sample)
	}
	return s
}

// Unwrap returns the underlying error.
func (e *ResponseError) Unwrap() error { return e.Err }

// OutcomeUnknownError is returned by a call that the SDK must not repeat
// blindly (member creation, order sync, coupon give and verify, SMS send, a
// score change it could not resolve) when the request may have reached the
// gateway and no definite answer came back. errors.Is(err, ErrOutcomeUnknown)
// is true; Unwrap gives the failure that made the outcome unknown.
type OutcomeUnknownError struct {
	// Method is the gateway method.
	Method string
	// Key names the request so the caller can settle it: "order_no=A123"
	// for an order (settle it with Order.ResolveConsume or ResolveRefund,
	// which send the same order_no again and read a duplicate answer as
	// "it had applied"), "change_id=..." for a score change that Change
	// could not resolve (see ScoreChangeUnresolvedError and Score.Resolve).
	// Empty when the call has no key (member creation, coupon give and
	// verify, SMS send: look before sending again; see the README).
	Key string
	// Err is what happened: a *TransportError, *ResponseError or a context
	// error.
	Err error
}

// Error implements error.
func (e *OutcomeUnknownError) Error() string {
	s := "ump: " + e.Method + ": outcome unknown"
	if e.Key != "" {
		s += " (" + e.Key + ")"
	}
	return s + ": " + e.Err.Error()
}

// Is reports target == ErrOutcomeUnknown.
func (e *OutcomeUnknownError) Is(target error) bool { return target == ErrOutcomeUnknown }

// Unwrap returns the failure that made the outcome unknown.
func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

// Retryable reports whether sending the same request again later may
// succeed, or whether its outcome must be settled before anything else is
// sent. It is true for transport failures, "system busy", proxy pages,
// token, sign, clock and quota trouble (the answers the document gives no
// code for), ErrClockSkew, ErrTokenBudgetExhausted, ErrNoToken and ErrOutcomeUnknown
// (settle those with the Resolve methods, which resend under the same key).
// It is false for a *ValidationError, for ErrAppliedUnreadable (the call
// was applied) and for the platform's business refusals: every other code
// of the document's table, such as member not bound, insufficient points or
// a duplicate key. A queue that holds work for
// the platform keeps a retryable failure and sets a refusal aside.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOutcomeUnknown) {
		return true // a refusal inside it proves nothing about the earlier attempt
	}
	if errors.Is(err, ErrAppliedUnreadable) {
		return false // applied: sending it again could apply it twice
	}
	if errors.Is(err, ErrClockSkew) {
		return true // whatever code the gateway chose, the timestamp was off
	}
	var verr *ValidationError
	if errors.As(err, &verr) {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.retryable()
	}
	// Transport and response errors, an exhausted or unreachable token, a
	// token store that failed, an ended context: all may pass.
	return true
}

// retryable reports whether the refusal is trouble that may pass rather
// than the platform's considered answer: a rejected token, "system busy"
// (in the call's own meaning of its codes), or a code no table lists.
func (e *APIError) retryable() bool {
	s := sentinelFor(e.Method, e.Code)
	return e.tokenInvalid || s == nil || s == ErrSystemBusy
}
