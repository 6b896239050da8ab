// Package ump is the Go SDK for the Gree Real Estate member open platform
// (格力地产会员开放平台): typed calls for the gateway's nineteen methods, with
// signing, access tokens shared safely across processes, retries that never
// apply a call twice, and errors that carry the platform's own codes.
//
// A Client is built once and shared; it is safe for concurrent use:
//
//	c, err := ump.NewClient(appID, appSecret, ump.WithBaseURL(baseURL))
//	m, err := c.Member.Get(ctx, ump.MemberQuery{Phone: "13800000000"})
//
// Package umptest provides an in-process gateway for tests.
package ump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// DefaultBaseURL is the only host the platform document names (its
// "production" line repeats it). Set the real one with WithBaseURL.
const DefaultBaseURL = "https://test-ump.greedc.com"

// Version is the SDK's version, sent in the default User-Agent.
const Version = "0.1.0"

// Defaults, each changeable by an Option.
const (
	DefaultTimeout          = 10 * time.Second // per attempt
	DefaultMaxResponseBytes = 4 << 20
	DefaultRefreshWindow    = 12 * time.Minute
)

// Client calls the gateway. Build it with NewClient; it is safe for concurrent
// use and holds no global state, so several clients (several apps) can live in
// one process.
type Client struct {
	appID     string
	appSecret string
	baseURL   string
	rc        *resty.Client
	log       *slog.Logger
	now       func() time.Time
	retry     RetryPolicy
	maxBody   int64
	// tokenInvalid holds the error codes that mean "access token rejected"
	// besides HTTP 401; the document names none (NOTES.md #15).
	tokenInvalid map[int64]bool

	// Auth obtains, refreshes and caches access tokens (section 2).
	Auth *AuthService
	// Member creates and looks up members, member codes and levels (section 3).
	Member *MemberService
	// Score changes, rolls back and lists member points (sections 3.3-3.5).
	Score *ScoreService
	// Order syncs consume and refund orders (section 4).
	Order *OrderService
	// Coupon manages coupon templates and grants (section 5).
	Coupon *CouponService
	// SMS sends and checks verification codes (section 6).
	SMS *SMSService
}

// service is what every per-domain service holds: the client it calls through.
type service struct{ client *Client }

// settings collects the options before the Client is built.
type settings struct {
	baseURL       string
	httpClient    *http.Client
	timeout       time.Duration
	logger        *slog.Logger
	store         TokenStore
	now           func() time.Time
	userAgent     string
	retry         RetryPolicy
	invalidCodes  []int64
	refreshWindow time.Duration
	budget        TokenBudget
	maxBody       int64
}

// Option configures a Client. Options validate their arguments; NewClient
// returns the first error.
type Option func(*settings) error

// WithBaseURL sets the gateway's scheme and host (and port), such as
// "https://ump.example.com:8443". The default is DefaultBaseURL.
func WithBaseURL(base string) Option {
	return func(s *settings) error {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("ump: WithBaseURL: %q is not an http(s) URL with a host", base)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("ump: WithBaseURL: %q must not have a query or fragment", base)
		}
		s.baseURL = strings.TrimRight(base, "/")
		return nil
	}
}

// WithHTTPClient sets the http.Client whose Transport carries the requests.
// The Client copies it and sets the copy's Timeout from WithTimeout; the
// caller's value is not modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) error {
		if hc == nil {
			return errors.New("ump: WithHTTPClient: nil *http.Client")
		}
		s.httpClient = hc
		return nil
	}
}

// WithTimeout bounds each attempt (connect, send, read the answer); the
// context passed to a call bounds the whole call, retries included.
// The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 {
			return fmt.Errorf("ump: WithTimeout: %v is not positive", d)
		}
		s.timeout = d
		return nil
	}
}

// WithLogger sends the SDK's logs to l. The default discards them. The SDK
// never logs the app secret, a token or a sign, and masks phone numbers and
// identity numbers; at debug level it logs one line per attempt.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) error {
		if l == nil {
			return errors.New("ump: WithLogger: nil *slog.Logger")
		}
		s.logger = l
		return nil
	}
}

// WithTokenStore keeps the token record and the day's token-call counters in
// store, so that restarts and other processes share them. The default,
// NewMemoryTokenStore, lives as long as the process.
func WithTokenStore(store TokenStore) Option {
	return func(s *settings) error {
		if store == nil {
			return errors.New("ump: WithTokenStore: nil TokenStore")
		}
		s.store = store
		return nil
	}
}

// WithClock sets the source of the current time, used for timestamps, token
// expiry and the Beijing day of the token budget. Tests use it with umptest's
// controllable clock. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error {
		if now == nil {
			return errors.New("ump: WithClock: nil clock")
		}
		s.now = now
		return nil
	}
}

// WithUserAgent sets the User-Agent header. The default is "ump-go/" + Version.
func WithUserAgent(ua string) Option {
	return func(s *settings) error {
		if strings.TrimSpace(ua) == "" || strings.ContainsAny(ua, "\r\n") {
			return fmt.Errorf("ump: WithUserAgent: %q is not a usable header value", ua)
		}
		s.userAgent = ua
		return nil
	}
}

// WithRetry sets the retry policy. RetryPolicy{MaxAttempts: 1} turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(s *settings) error {
		if p.MaxAttempts < 1 {
			return fmt.Errorf("ump: WithRetry: MaxAttempts %d is below 1", p.MaxAttempts)
		}
		if p.InitialBackoff < 0 || p.MaxBackoff < p.InitialBackoff {
			return fmt.Errorf("ump: WithRetry: backoff %v..%v is not a range", p.InitialBackoff, p.MaxBackoff)
		}
		s.retry = p
		return nil
	}
}

// WithTokenInvalidCodes names error codes that mean the access token was
// rejected, in addition to HTTP 401 (the document names none). A call that
// fails with one refreshes the token once, if the failed token is still the
// current one, and is retried once.
func WithTokenInvalidCodes(codes ...int64) Option {
	return func(s *settings) error {
		s.invalidCodes = append(s.invalidCodes, codes...)
		return nil
	}
}

// WithTokenRefreshWindow sets how long before expiry the token is refreshed.
// The default, DefaultRefreshWindow, spends about 13 of the 20 daily
// refreshes; refreshing at half-life would need 24.
func WithTokenRefreshWindow(d time.Duration) Option {
	return func(s *settings) error {
		if d <= 0 || d >= time.Hour {
			return fmt.Errorf("ump: WithTokenRefreshWindow: %v is outside (0, 1h)", d)
		}
		s.refreshWindow = d
		return nil
	}
}

// WithTokenBudget sets the daily allowance of token calls; see TokenBudget.
func WithTokenBudget(b TokenBudget) Option {
	return func(s *settings) error {
		if err := b.validate(); err != nil {
			return err
		}
		s.budget = b
		return nil
	}
}

// WithMaxResponseBytes caps the size of an answer the SDK reads; a larger one
// is a *ResponseError. The default is DefaultMaxResponseBytes.
func WithMaxResponseBytes(n int64) Option {
	return func(s *settings) error {
		if n < 1024 {
			return fmt.Errorf("ump: WithMaxResponseBytes: %d is below 1024", n)
		}
		s.maxBody = n
		return nil
	}
}

// NewClient returns a Client for the app identified by appID and appSecret.
func NewClient(appID, appSecret string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(appID) == "" {
		return nil, errors.New("ump: NewClient: appID is empty")
	}
	if strings.TrimSpace(appSecret) == "" {
		return nil, errors.New("ump: NewClient: appSecret is empty")
	}
	s := settings{
		baseURL:       DefaultBaseURL,
		timeout:       DefaultTimeout,
		now:           time.Now,
		userAgent:     "ump-go/" + Version,
		retry:         DefaultRetryPolicy,
		refreshWindow: DefaultRefreshWindow,
		budget:        DefaultTokenBudget,
		maxBody:       DefaultMaxResponseBytes,
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&s); err != nil {
			return nil, err
		}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.store == nil {
		s.store = NewMemoryTokenStore()
	}

	c := &Client{
		appID:        appID,
		appSecret:    appSecret,
		baseURL:      s.baseURL,
		rc:           newTransport(s),
		log:          s.logger,
		now:          s.now,
		retry:        s.retry,
		maxBody:      s.maxBody,
		tokenInvalid: make(map[int64]bool, len(s.invalidCodes)),
	}
	for _, code := range s.invalidCodes {
		c.tokenInvalid[code] = true
	}
	c.Auth = newAuthService(c, s.store, s.refreshWindow, s.budget)
	c.Member = &MemberService{client: c}
	c.Score = &ScoreService{client: c}
	c.Order = &OrderService{client: c}
	c.Coupon = &CouponService{client: c}
	c.SMS = &SMSService{client: c}
	return c, nil
}

// AppID returns the app id the client signs for.
func (c *Client) AppID() string { return c.appID }

// newTransport builds the resty client once; it is never changed afterwards,
// which is what makes it safe for concurrent use.
func newTransport(s settings) *resty.Client {
	var hc http.Client
	if s.httpClient != nil {
		hc = *s.httpClient
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 64 // the default of 2 reconnects under load
		hc.Transport = t
	}
	hc.Timeout = s.timeout
	rc := resty.NewWithClient(&hc)
	// resty's own logger prints full URLs (access_token and sign are query
	// parameters); the SDK logs through slog instead.
	rc.SetLogger(discardLogger{})
	// The SDK reads and decodes answers itself: resty's parsing would run a
	// content-type regex and reflection on every call.
	rc.SetDoNotParseResponse(true)
	rc.SetHeader("Content-Type", "application/json; charset=utf-8")
	rc.SetHeader("Accept", "application/json")
	rc.SetHeader("User-Agent", s.userAgent)
	return rc
}

type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// RetryPolicy says how often and how patiently a call is repeated after a
// failure that is safe to repeat. Waits grow exponentially from
// InitialBackoff, are capped at MaxBackoff and jittered to [d/2, d); a wait
// ends early when the call's context ends.
//
// Which failures are repeated depends on the call:
//   - failures before the request was written (DNS, dial) are repeated for
//     every call;
//   - timeouts, resets, HTTP 502/503/504, malformed answers and code 500
//     "system busy" are repeated for reads and for calls the gateway
//     deduplicates (change_id calls, coupon status sync);
//   - member creation, order sync, coupon give and verify and SMS send are
//     never repeated after the request may have reached the gateway: an
//     ambiguous failure returns an *OutcomeUnknownError instead.
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

// credential is what a call's query carries to identify the caller.
type credential uint8

const (
	credAccessToken  credential = iota // every business call
	credAppID                          // 2.1, obtaining a token
	credRefreshToken                   // 2.2, refreshing a token
)

var credentialNames = [...]string{credAccessToken: "access_token", credAppID: "app_id", credRefreshToken: "refresh_token"}

// endpoint is what differs between gateway calls, as data: the one request
// path reads it.
type endpoint struct {
	method string // gateway method, the {method} of /gw/gateway/{method}/v1
	// idempotent means repeating the call cannot apply it twice: a read, or a
	// call the gateway deduplicates. Only such calls are repeated after the
	// request may have reached the gateway.
	idempotent bool
	cred       credential
	// blankIsSuccess accepts an empty answer or "{}" with HTTP 200 as success
	// (the SMS calls show no answer at all, NOTES.md #19).
	blankIsSuccess bool
}

// page is the paging information of a paged answer.
type page = wire.Page

// call sends one gateway call through the shared request path and decodes the
// answer's data as T. body is marshalled once (nil sends no body).
func call[T any](ctx context.Context, c *Client, ep *endpoint, body any) (T, page, error) {
	return callAs[T](ctx, c, ep, body, "")
}

// callAs is call with an explicit credential value, for the token calls.
func callAs[T any](ctx context.Context, c *Client, ep *endpoint, body any, cred string) (T, page, error) {
	var a answer[T]
	err := c.roundTrip(ctx, ep, body, cred, &a)
	if err != nil {
		var zero T
		return zero, page{}, err
	}
	return a.env.Data, a.env.Page(), nil
}

// decoder decodes one attempt's answer; answer[T] is the only implementation.
type decoder interface {
	decode(body []byte) error
	// header reports the envelope's verdict after a successful decode.
	header() (success bool, code int64, message string, blank bool, dataErr error)
}

type answer[T any] struct {
	env     wire.Envelope[T]
	dataErr error
}

func (a *answer[T]) decode(body []byte) error {
	a.env = wire.Envelope[T]{}
	var err error
	a.dataErr, err = wire.DecodeEnvelope(body, &a.env)
	return err
}

func (a *answer[T]) header() (bool, int64, string, bool, error) {
	blank := !bool(a.env.Success) && a.env.ErrorCode == nil && a.env.ErrorCodeCamel == nil && a.env.Message() == ""
	return bool(a.env.Success), a.env.Code(), a.env.Message(), blank, a.dataErr
}

// verdict is how one attempt ended, which decides what the loop does next.
type verdict uint8

const (
	done          verdict = iota // success, or a definite failure to return
	notSent                      // failed before the request was written: always safe to repeat
	ambiguous                    // may have been applied; repeat only idempotent calls
	busy                         // the gateway answered "system busy" (500)
	tokenRejected                // refresh the token once and repeat
)

// answerBuf is a pooled read buffer with the reader that caps it, so that
// reading an answer allocates nothing.
type answerBuf struct {
	bytes.Buffer
	limit io.LimitedReader
}

var bodyPool = sync.Pool{New: func() any { return new(answerBuf) }}

// roundTrip is the one request path: marshal once; per attempt take a token,
// stamp, sign the exact bytes, send, read with a cap, decode; then return,
// repeat by the endpoint's class, or refresh the token once.
func (c *Client) roundTrip(ctx context.Context, ep *endpoint, body any, cred string, dec decoder) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = wire.Marshal(body); err != nil {
			return fmt.Errorf("ump: %s: encoding request: %w", ep.method, err)
		}
	}
	tokenRetried := false
	for attempt := 1; ; attempt++ {
		value := cred
		if ep.cred == credAccessToken {
			var err error
			if value, err = c.Auth.AccessToken(ctx); err != nil {
				return err
			}
		}
		v, err := c.attempt(ctx, ep, payload, value, attempt, dec)
		switch {
		case v == done:
			return err
		case v == tokenRejected:
			if tokenRetried || ep.cred != credAccessToken {
				return err // a token call itself was rejected: nothing to renew
			}
			tokenRetried = true
			attempt-- // the repeat after a refresh is not a retry of the call
			if rerr := c.Auth.recover(ctx, value); rerr != nil {
				return errors.Join(err, rerr)
			}
			continue
		case v == busy && !ep.idempotent:
			return err
		case v == ambiguous && !ep.idempotent:
			return &OutcomeUnknownError{Method: ep.method, Err: err}
		}
		if attempt >= c.retry.MaxAttempts || ctx.Err() != nil {
			return err
		}
		wait := c.retry.backoff(attempt)
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: retrying", slog.String("method", ep.method),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// attempt sends the request once and classifies the result.
func (c *Client) attempt(ctx context.Context, ep *endpoint, payload []byte, cred string, n int, dec decoder) (verdict, error) {
	start := c.now()
	ts := strconv.FormatInt(start.UnixMilli(), 10)
	credName := credentialNames[ep.cred]
	// Both credential names sort before "timestamp", the canonical order.
	sign := signSorted([]param{{credName, cred}, {"timestamp", ts}}, payload, c.appSecret)
	target := c.baseURL + "/gw/gateway/" + ep.method + "/v1?" + credName + "=" + url.QueryEscape(cred) + "&timestamp=" + ts + "&sign=" + sign

	req := c.rc.R().SetContext(ctx)
	if payload != nil {
		req.SetBody(bytes.NewReader(payload))
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
	buf := bodyPool.Get().(*answerBuf)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bodyPool.Put(buf)
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
	v, err := c.judge(ep, status, buf.Bytes(), dec)
	c.logAttempt(ctx, ep, n, start, status, apiCode(err), err)
	return v, err
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

// judge turns an answer into a verdict.
func (c *Client) judge(ep *endpoint, status int, body []byte, dec decoder) (verdict, error) {
	if int64(len(body)) > c.maxBody {
		return ambiguous, c.responseError(ep, status, body[:512], fmt.Errorf("answer exceeds %d bytes", c.maxBody))
	}
	if ep.blankIsSuccess && status == http.StatusOK && len(bytes.TrimSpace(body)) == 0 {
		return done, nil
	}
	if err := dec.decode(body); err != nil {
		rerr := c.responseError(ep, status, body, errors.New("answer is not a gateway envelope"))
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
	success, code, message, blank, dataErr := dec.header()
	if success {
		if dataErr != nil {
			return done, c.responseError(ep, status, body, fmt.Errorf("success, but data does not decode: %w", dataErr))
		}
		return done, nil
	}
	if blank && ep.blankIsSuccess && status == http.StatusOK {
		return done, nil
	}
	apiErr := &APIError{Method: ep.method, HTTPStatus: status, Code: code, Message: message}
	switch {
	case status == http.StatusUnauthorized || c.tokenInvalid[code]:
		apiErr.tokenInvalid = true
		return tokenRejected, apiErr
	case code == 500:
		return busy, apiErr
	case blank && status >= 500:
		return ambiguous, apiErr
	}
	return done, apiErr
}

func (c *Client) responseError(ep *endpoint, status int, body []byte, err error) *ResponseError {
	return &ResponseError{Method: ep.method, HTTPStatus: status, Sample: redact.Sample(body, 120, c.appSecret), Err: err}
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

func (c *Client) logAttempt(ctx context.Context, ep *endpoint, n int, start time.Time, status int, code int64, err error) {
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

// PageRequest selects one page of a paged call. Zero values take the
// gateway's defaults (page 1; the page size each call documents).
type PageRequest struct {
	PageNo   int
	PageSize int
}

// pages walks a paged call from page first on, yielding every item, until
// totalCount items were seen or a page comes back short or empty. fetch gets
// the page number and returns the items and the paging fields.
func pages[T any](ctx context.Context, first, size int, fetch func(ctx context.Context, pageNo int) ([]T, page, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		first = max(first, 1)
		seen := int64(first-1) * int64(size)
		for no := first; ; no++ {
			items, pg, err := fetch(ctx, no)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			seen += int64(len(items))
			if size <= 0 { // the caller took the gateway's default size
				size = int(pg.PageSize)
				seen = int64(first-1)*int64(size) + int64(len(items))
			}
			if len(items) == 0 || len(items) < size || (pg.TotalCount > 0 && seen >= pg.TotalCount) {
				return
			}
		}
	}
}
