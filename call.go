package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// The request path, from a service method to the wire:
//
//	service method -> call -> (*Client).roundTrip -> (*Client).attempt -> resty
//
// call marshals the body once; roundTrip is the one attempt loop (token,
// retry by class, token renewal); attempt stamps, signs, sends and reads one
// answer, and classify turns that answer into a verdict and an error.

// credential is what a call's query carries to identify the caller.
type credential uint8

const (
	credAccessToken  credential = iota // every business call
	credAppID                          // 2.1, obtaining a token
	credRefreshToken                   // 2.2, refreshing a token
)

var credentialNames = [...]string{credAccessToken: "access_token", credAppID: "app_id", credRefreshToken: "refresh_token"}

// endpoint is one gateway call, as data; each is declared once, next to its
// service.
type endpoint struct {
	method string     // gateway method, the {method} of /gw/gateway/{method}/v1
	retry  retryClass // when the call may be sent again
	cred   credential
	// blankIsSuccess accepts an empty answer or "{}" with HTTP 200 as
	// success (the document shows the SMS calls answering nothing at all).
	blankIsSuccess bool
}

// resending returns ep as a resolution sends it: the request of unknown
// outcome again, under the same key, which the gateway refuses as a
// duplicate if the first copy applied. A second copy thus cannot apply
// twice, and the resend is repeated as a keyed write.
func (ep endpoint) resending() *endpoint {
	ep.retry = retryKeyed
	return &ep
}

// request is one call on its way through roundTrip.
type request struct {
	ep      *endpoint
	payload []byte // the body, marshalled once, sent as is by every attempt; nil sends none
	key     string // names the request in an *OutcomeUnknownError, such as "order_no=A1"
	cred    string // a token call's credential (app id, refresh token); "" takes an access token
	// stamped is the clock correction the last attempt's timestamp was
	// stamped with (clock.go).
	stamped time.Duration
}

// call is the entry point of every service method: it sends body (nil sends
// none) as a call of ep and decodes the answer's data as T, returning it
// with the answer's paging fields. key names the request ("order_no=A1",
// "change_id=..."; "" when it has none) in the *OutcomeUnknownError of an
// ambiguous failure, so the caller knows what to reconcile.
func call[T any](ctx context.Context, c *Client, ep *endpoint, body any, key string) (T, wire.Page, error) {
	var zero T
	r := request{ep: ep, key: key}
	if body != nil {
		var err error
		if r.payload, err = wire.Marshal(body); err != nil {
			return zero, wire.Page{}, fmt.Errorf("ump: %s: encoding request: %w", ep.method, err)
		}
	}
	var a answer[T]
	err := c.roundTrip(ctx, &r, &a)
	if err != nil && !errors.Is(err, ErrAppliedUnreadable) {
		return zero, wire.Page{}, err
	}
	// Applied but unreadable: whatever of the data did decode goes with
	// the error.
	return a.env.Data, a.env.Page(), err
}

// callToken is call for the two token calls (2.1, 2.2): no body, and cred,
// the app id or the refresh token, in place of an access token.
func callToken[T any](ctx context.Context, c *Client, ep *endpoint, cred string) (T, error) {
	var a answer[T]
	if err := c.roundTrip(ctx, &request{ep: ep, cred: cred}, &a); err != nil {
		var zero T
		return zero, err
	}
	return a.env.Data, nil
}

// verdict is how one attempt ended, which decides what roundTrip does next.
type verdict uint8

const (
	done          verdict = iota // success, or a definite failure to return
	notSent                      // failed before the request was written: always safe to repeat
	ambiguous                    // may have been applied
	busy                         // the gateway answered "system busy" (500): nothing applied
	tokenRejected                // renew the token once and send again
)

// roundTrip is the one attempt loop: per attempt it takes a token and lets
// attempt send the request; then it returns, sends again as the endpoint's
// retry class allows, or renews a rejected token once.
func (c *Client) roundTrip(ctx context.Context, r *request, dec decoder) (err error) {
	ep := r.ep
	ctx, trace := c.openCall(ctx, ep, r.key)
	defer func() { trace.close(ctx, err) }() // after the defer below: it reports the final error
	mayHaveApplied := false
	defer func() {
		// Once a keyed write may have applied, a duplicate answer means
		// that attempt applied, and any other failure proves nothing
		// about it (see retryKeyed).
		if err == nil || !mayHaveApplied || ep.retry != retryKeyed ||
			errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrAppliedUnreadable) {
			return
		}
		if errors.Is(err, duplicateKey) {
			err = &earlierAttemptError{err}
			return
		}
		err = &OutcomeUnknownError{Method: ep.method, Key: r.key, Err: err}
	}()
	tokenRenewed, clockResent := false, false
	for n := 1; ; n++ {
		cred := r.cred
		if ep.cred == credAccessToken {
			if cred, err = c.Auth.AccessToken(ctx); err != nil {
				return noToken(ep, err)
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			// The context ended before this attempt was sent (perhaps
			// while a token was renewed): it cannot have reached the
			// gateway, and earlier attempts were settled.
			return fmt.Errorf("ump: %s: %w", ep.method, cerr)
		}
		var v verdict
		v, err = c.attempt(ctx, r, cred, n, dec)
		// "System busy" to a keyed write may have applied all the same: a
		// later duplicate answer then means it did.
		mayHaveApplied = mayHaveApplied || v == ambiguous || (v == busy && ep.retry == retryKeyed)
		if !clockResent && c.clock.resends(v, err, r.stamped) {
			// Refused with a timestamp the measured clock says was off:
			// the gateway checked it before applying anything. Once per
			// call, and not a retry of it.
			clockResent = true
			n--
			c.logClockResend(ctx, ep, r.stamped, err)
			continue
		}
		switch {
		case v == done:
			return err
		case v == tokenRejected:
			if tokenRenewed || ep.cred != credAccessToken {
				return err // a token call itself was rejected: nothing to renew
			}
			tokenRenewed = true
			n-- // the send after a renewal is not a retry of the call
			if rerr := c.Auth.recover(ctx, cred); rerr != nil {
				return errors.Join(err, noToken(ep, rerr))
			}
			continue
		case v == busy && !ep.retry.repeatsBusy():
			return err
		case v == ambiguous && !ep.retry.repeatsAmbiguous():
			return &OutcomeUnknownError{Method: ep.method, Key: r.key, Err: err}
		}
		if n >= c.retry.MaxAttempts {
			return err
		}
		if ctx.Err() != nil {
			return withContext(ctx, err)
		}
		wait := c.retry.backoff(n)
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: retrying", slog.String("method", ep.method),
			slog.Int("attempt", n), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return withContext(ctx, err)
		case <-t.C:
		}
	}
}

// earlierAttemptError is the duplicate-key refusal (150002) of a keyed write
// one of whose earlier attempts, in the same call, may have applied: an
// ambiguous one, or one answered "system busy". It reads as "that attempt
// applied". It unwraps to the refusal, so that errors.Is(err,
// ErrAlreadyExists) holds too.
type earlierAttemptError struct{ err error }

func (e *earlierAttemptError) Error() string {
	return e.err.Error() + " (after an attempt that may have applied)"
}
func (e *earlierAttemptError) Unwrap() error { return e.err }

// appliedByEarlierAttempt reports whether err is the duplicate-key refusal
// of a keyed write after an attempt of the same call that may have applied.
func appliedByEarlierAttempt(err error) bool {
	var e *earlierAttemptError
	return errors.As(err, &e)
}

// noToken is the error of a call that could not get an access token. The
// call itself was not sent, so it must not read as an unknown outcome even
// when the token call's own outcome is unknown (its answer was lost).
func noToken(ep *endpoint, err error) error {
	var unknown *OutcomeUnknownError
	if errors.As(err, &unknown) {
		err = unknown.Err
	}
	return fmt.Errorf("ump: %s: not sent, no access token: %w", ep.method, err)
}

// withContext adds the context's error to err, the last attempt's failure,
// when the context ended the retries, so that errors.Is(err,
// context.DeadlineExceeded) holds and errors.As still finds the failure.
func withContext(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	return fmt.Errorf("%w; not retried: %w", err, cerr)
}

// answerBuf is a pooled read buffer with the reader that caps it, so that
// reading an answer allocates nothing.
type answerBuf struct {
	bytes.Buffer
	limit io.LimitedReader
}

var answerBufs = sync.Pool{New: func() any { return new(answerBuf) }}

// attempt sends the request once, with cred as its credential, and reads
// and classifies the answer. n counts the attempts, for the log.
func (c *Client) attempt(ctx context.Context, r *request, cred string, n int, dec decoder) (verdict, error) {
	ep := r.ep
	start := c.now()
	r.stamped = c.clock.correction()
	ts := strconv.FormatInt(start.Add(r.stamped).UnixMilli(), 10)
	credName := credentialNames[ep.cred]
	// Both credential names sort before "timestamp", the canonical order.
	sign := signSorted([]param{{credName, cred}, {"timestamp", ts}}, r.payload, c.appSecret)
	target := c.baseURL + "/gw/gateway/" + ep.method + "/v1?" + credName + "=" + url.QueryEscape(cred) + "&timestamp=" + ts + "&sign=" + sign

	req := c.rc.R().SetContext(ctx)
	if r.payload != nil {
		req.SetBody(bytes.NewReader(r.payload))
	}
	resp, err := req.Execute(http.MethodPost, target)
	if err != nil {
		terr := newTransportError(ep.method, err)
		c.logAttempt(ctx, ep, n, start, 0, 0, terr)
		if isNotSent(err) {
			return notSent, terr
		}
		return ambiguous, terr
	}
	raw := resp.RawBody()
	status := resp.StatusCode()
	// A redirect came from something in front of the gateway: its Date
	// says nothing of the gateway's clock.
	if isRedirect(status) {
		_, _ = io.Copy(io.Discard, io.LimitReader(raw, 4<<10)) // a short body lets the connection be reused
		raw.Close()
		rerr := redirectError(ep.method, status, resp.Header().Get("Location"))
		c.logAttempt(ctx, ep, n, start, status, 0, rerr)
		return done, rerr
	}
	c.learnClock(ctx, resp.Header(), start, c.now())
	buf := answerBufs.Get().(*answerBuf)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			answerBufs.Put(buf)
		}
	}()
	buf.limit = io.LimitedReader{R: raw, N: c.maxBody + 1}
	_, rerr := buf.ReadFrom(&buf.limit)
	buf.limit.R = nil // do not keep the connection's body reachable from the pool
	raw.Close()
	if rerr != nil {
		terr := newTransportError(ep.method, rerr)
		c.logAttempt(ctx, ep, n, start, status, 0, terr)
		return ambiguous, terr
	}
	v, err := c.classify(ctx, ep, status, buf.Bytes(), cred, dec)
	if ep.cred == credAppID {
		cred = "" // the app id is no secret, and masking it hides which app failed
	}
	err = c.clock.explain(c.redactAnswer(ep, err, cred, sign), r.stamped)
	c.logAttempt(ctx, ep, n, start, status, apiCode(err), err)
	return v, err
}

// isNotSent reports a failure before the request was written: DNS and dial
// errors. Everything else may have reached the gateway.
func isNotSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// classify turns one answer into a verdict and the call's error. cred is the
// credential the request carried, redacted from any sample.
func (c *Client) classify(ctx context.Context, ep *endpoint, status int, body []byte, cred string, dec decoder) (verdict, error) {
	if ep.cred == credAppID {
		cred = "" // the app id is no secret, and masking it hides which app failed
	}
	if int64(len(body)) > c.maxBody {
		// The whole body goes to the sample, which redacts before it cuts:
		// a secret straddling a cut would escape redaction.
		return ambiguous, c.responseError(ep, status, body, cred, fmt.Errorf("answer exceeds %d bytes", c.maxBody))
	}
	if ep.blankIsSuccess && status == http.StatusOK && len(bytes.TrimSpace(body)) == 0 {
		return done, nil
	}
	h, err := dec.decode(body)
	if err != nil {
		rerr := c.responseError(ep, status, body, cred, errors.New("answer is not a gateway envelope"))
		switch {
		case status == http.StatusUnauthorized:
			return tokenRejected, &APIError{Method: ep.method, HTTPStatus: status, Message: http.StatusText(status), tokenInvalid: true}
		case status >= 500 || (status >= 200 && status < 300):
			// A proxy's error page or a cut-off answer: the gateway may
			// have applied the call.
			return ambiguous, rerr
		default:
			return done, rerr
		}
	}
	if h.success {
		if h.dataErr == nil {
			return done, nil
		}
		rerr := c.responseError(ep, status, body, cred, fmt.Errorf("success, but data does not decode: %w", h.dataErr))
		if ep.retry != retrySafe {
			// A write the gateway applied: zero values would read as a
			// result, a plain failure as "not applied" and invite a
			// resend. Neither is true.
			c.log.LogAttrs(ctx, slog.LevelWarn, "ump: call applied, but its answer could not be read",
				slog.String("method", ep.method), slog.String("error", redact.Text(h.dataErr.Error(), c.appSecret, cred)))
			return done, &AppliedUnreadableError{Method: ep.method, Err: rerr}
		}
		return done, rerr
	}
	if h.empty && ep.blankIsSuccess && status == http.StatusOK {
		return done, nil
	}
	apiErr := &APIError{Method: ep.method, HTTPStatus: status, Code: h.code, Message: c.scrub(h.message, cred)}
	switch {
	case status == http.StatusUnauthorized || c.tokenInvalid[h.code]:
		apiErr.tokenInvalid = true
		return tokenRejected, apiErr
	case sentinelFor(ep.method, h.code) == ErrSystemBusy: // 500, or the call's own code for it
		return busy, apiErr
	case h.silent && status >= 500:
		return ambiguous, apiErr
	}
	return done, apiErr
}

// decoder decodes one attempt's answer; answer[T] is the only
// implementation, an interface so that the attempt loop is not generic.
type decoder interface {
	decode(body []byte) (envelopeHeader, error)
}

// envelopeHeader is what classify needs to know of a decoded answer.
type envelopeHeader struct {
	success bool
	code    int64
	message string
	// silent: not a success, and neither a code nor a message says why.
	silent bool
	// empty: silent and without even a success field, such as "{}". Only
	// this counts as the bare success of the SMS calls: an explicit
	// "success": false is a failure whatever else is missing.
	empty   bool
	dataErr error // success, but data does not fit T
}

// answer is an answer being decoded: the envelope with data as T.
type answer[T any] struct {
	env wire.Envelope[T]
}

func (a *answer[T]) decode(body []byte) (envelopeHeader, error) {
	a.env = wire.Envelope[T]{}
	dataErr, err := wire.DecodeEnvelope(body, &a.env)
	if err != nil {
		return envelopeHeader{}, err
	}
	env := &a.env
	h := envelopeHeader{success: bool(env.Success), code: env.Code(), message: env.Message(), dataErr: dataErr}
	h.silent = !h.success && env.ErrorCode == nil && env.ErrorCodeCamel == nil && h.message == ""
	if h.silent {
		// Rare: look again only to tell "{}" from "success": false.
		var probe struct {
			Success json.RawMessage `json:"success"`
		}
		_ = json.Unmarshal(body, &probe)
		h.empty = len(probe.Success) == 0 || string(probe.Success) == "null"
	}
	return h, nil
}

// scrub removes the app secret and the request's credential from a message
// the gateway sent back (a rejection may echo the token it rejected); the
// rest stays verbatim.
func (c *Client) scrub(msg, cred string) string {
	for _, secret := range [...]string{c.appSecret, cred} {
		if len(secret) >= 4 && strings.Contains(msg, secret) {
			msg = strings.ReplaceAll(msg, secret, "***")
		}
	}
	return msg
}

// responseError is an answer that is no envelope, or no usable one, with a
// redacted sample of its body.
func (c *Client) responseError(ep *endpoint, status int, body []byte, cred string, err error) *ResponseError {
	return &ResponseError{Method: ep.method, HTTPStatus: status, Sample: redact.Sample(body, 120, c.appSecret, cred), Err: err}
}

// apiCode returns the gateway's error code that err carries, or 0. The
// target of errors.As lives on the heap, so a successful call skips it.
func apiCode(err error) int64 {
	if err == nil {
		return 0
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return 0
}

// logAttempt logs one attempt at debug level, a failed one a little higher.
func (c *Client) logAttempt(ctx context.Context, ep *endpoint, n int, start time.Time, status int, code int64, err error) {
	if c.hooks != nil {
		c.attemptDone(ctx, ep, start, status, code, err)
	}
	level := slog.LevelDebug
	if err != nil {
		level = slog.LevelDebug + 2 // between debug and info: failed attempts
	}
	if !c.log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", ep.method), slog.Int("attempt", n),
		slog.Int("status", status), slog.Duration("elapsed", c.now().Sub(start)),
	}
	if code != 0 {
		attrs = append(attrs, slog.Int64("code", code))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, level, "ump: call", attrs...)
}
