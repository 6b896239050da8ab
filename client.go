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
	"cmp"
	"context"
	"encoding/json"
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
	// hooks is nil unless WithHooks was given; serverHost and serverPort
	// are the gateway's, for the hooks.
	hooks      *Hooks
	serverHost string
	serverPort int

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
	hooks         *Hooks
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
		hooks:        s.hooks,
	}
	c.serverHost, c.serverPort = splitServer(s.baseURL)
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
//     deduplicates (rollbacks, coupon status sync);
//   - a score change is repeated after "system busy" under its change_id;
//     after an ambiguous failure the SDK resolves it (ScoreService.Change);
//   - member creation, order sync, coupon give and verify and SMS send are
//     never repeated after the request may have reached the gateway: an
//     ambiguous failure returns an *OutcomeUnknownError instead.
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
	// busyRetry repeats a call that is not idempotent after "system busy"
	// (code 500), a definite refusal, because the gateway deduplicates it on
	// a key: a repeat of a call that did apply is refused as a duplicate.
	// Its ambiguous failures still end the call (score changes, which
	// resolve them through the key).
	busyRetry bool
	// keyedWrite marks a write the gateway deduplicates on a key (a
	// rollback's change_id, a resent order_no): it is repeated like a read,
	// but once an attempt may have applied it, a later refusal such as
	// "system busy" proves nothing about that attempt, so the call ends as
	// an *OutcomeUnknownError rather than a definite failure.
	keyedWrite bool
}

// page is the paging information of a paged answer.
type page = wire.Page

// call sends one gateway call through the shared request path and decodes the
// answer's data as T. body is marshalled once (nil sends no body).
func call[T any](ctx context.Context, c *Client, ep *endpoint, body any) (T, page, error) {
	return callAs[T](ctx, c, ep, body, "")
}

// callKeyed is call for a request that names itself: key, such as
// "order_no=A123", goes into the *OutcomeUnknownError that an ambiguous
// failure of a call that is not idempotent returns, so the caller knows what
// to reconcile.
func callKeyed[T any](ctx context.Context, c *Client, ep *endpoint, body any, key string) (T, page, error) {
	return exchange[T](ctx, c, ep, body, "", key)
}

// callAs is call with an explicit credential value, for the token calls.
func callAs[T any](ctx context.Context, c *Client, ep *endpoint, body any, cred string) (T, page, error) {
	return exchange[T](ctx, c, ep, body, cred, "")
}

func exchange[T any](ctx context.Context, c *Client, ep *endpoint, body any, cred, key string) (T, page, error) {
	var a answer[T]
	err := c.roundTrip(ctx, ep, body, cred, key, &a)
	if err != nil {
		var zero T
		return zero, page{}, err
	}
	return a.env.Data, a.env.Page(), nil
}

// RawAnswer is a successful answer to Raw: the envelope's data exactly as the
// gateway sent it, and the paging fields of a paged call (zero otherwise).
type RawAnswer struct {
	Data                         json.RawMessage
	PageNo, PageSize, TotalCount int64
}

// Raw calls the gateway method with body (JSON; empty sends none) through the
// same request path as the typed calls: token, timestamp, sign, envelope
// decoding. It is the escape hatch for a method the SDK has no typed call for
// yet, and for debugging (cmd/ump's call command); prefer the typed calls,
// which validate and know which calls are safe to repeat. Raw cannot know
// that, so it never repeats a call that may have reached the gateway: an
// ambiguous failure is an *OutcomeUnknownError. A failure the gateway
// answered is an *APIError; the token calls are refused (they spend the daily
// budget: use Auth).
func (c *Client) Raw(ctx context.Context, method string, body json.RawMessage) (*RawAnswer, error) {
	v := checker{method: method}
	switch {
	case !isMethodName(method):
		v.method = "Raw"
		v.add("method", "must be a gateway method name, such as wk.user.info.query")
	case method == epObtain.method || method == epRefresh.method:
		v.add("method", "token calls spend the daily budget: use Auth")
	}
	if len(body) > 0 && !json.Valid(body) {
		v.add("body", "must be valid JSON")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var payload any // nil sends no body; a nil RawMessage would send "null"
	if len(body) > 0 {
		payload = body
	}
	data, pg, err := call[json.RawMessage](ctx, c, &endpoint{method: method}, payload)
	if err != nil {
		return nil, err
	}
	return &RawAnswer{Data: data, PageNo: pg.PageNo, PageSize: pg.PageSize, TotalCount: pg.TotalCount}, nil
}

// isMethodName reports whether s can be the {method} path segment: letters,
// digits, dots, underscores and hyphens, as every documented method is.
func isMethodName(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// decoder decodes one attempt's answer; answer[T] is the only implementation.
type decoder interface {
	decode(body []byte) error
	// header reports the envelope's verdict after a successful decode.
	header() envelopeHeader
}

// envelopeHeader is what the request path needs to know of an answer.
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
	dataErr error
}

type answer[T any] struct {
	env     wire.Envelope[T]
	dataErr error
	empty   bool
}

func (a *answer[T]) decode(body []byte) error {
	a.env = wire.Envelope[T]{}
	a.empty = false
	var err error
	if a.dataErr, err = wire.DecodeEnvelope(body, &a.env); err != nil {
		return err
	}
	if a.silent() {
		// Rare: look again only to tell "{}" from "success": false.
		var probe struct {
			Success json.RawMessage `json:"success"`
		}
		_ = json.Unmarshal(body, &probe)
		a.empty = len(probe.Success) == 0 || string(probe.Success) == "null"
	}
	return nil
}

func (a *answer[T]) silent() bool {
	return !bool(a.env.Success) && a.env.ErrorCode == nil && a.env.ErrorCodeCamel == nil && a.env.Message() == ""
}

func (a *answer[T]) header() envelopeHeader {
	return envelopeHeader{success: bool(a.env.Success), code: a.env.Code(), message: a.env.Message(),
		silent: a.silent(), empty: a.empty, dataErr: a.dataErr}
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
// repeat by the endpoint's class, or refresh the token once. key names the
// request in an *OutcomeUnknownError (see callKeyed).
func (c *Client) roundTrip(ctx context.Context, ep *endpoint, body any, cred, key string, dec decoder) (err error) {
	ctx, trace := c.openCall(ctx, ep, key, false)
	defer func() { trace.close(ctx, ep, err) }()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = wire.Marshal(body); err != nil {
			return fmt.Errorf("ump: %s: encoding request: %w", ep.method, err)
		}
	}
	mayHaveApplied := false
	err = c.attempts(ctx, ep, payload, cred, key, dec, &mayHaveApplied)
	if err != nil && mayHaveApplied && ep.keyedWrite && !errors.Is(err, ErrOutcomeUnknown) && !errors.Is(err, duplicateKey) {
		return &OutcomeUnknownError{Method: ep.method, Key: key, Err: err}
	}
	return err
}

// attempts is roundTrip's loop. It sets *mayHaveApplied once an attempt
// ended without a definite answer.
func (c *Client) attempts(ctx context.Context, ep *endpoint, payload []byte, cred, key string, dec decoder, mayHaveApplied *bool) error {
	tokenRetried := false
	for attempt := 1; ; attempt++ {
		value := cred
		if ep.cred == credAccessToken {
			var err error
			if value, err = c.Auth.AccessToken(ctx); err != nil {
				return noToken(ep, err)
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			// The context ended before this attempt was sent (perhaps
			// while a token was renewed): this attempt cannot have reached
			// the gateway, and earlier ones were settled.
			return fmt.Errorf("ump: %s: %w", ep.method, cerr)
		}
		v, err := c.attempt(ctx, ep, payload, value, attempt, dec)
		if v == ambiguous {
			*mayHaveApplied = true
		}
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
				return errors.Join(err, noToken(ep, rerr))
			}
			continue
		case v == busy && !ep.idempotent && !ep.busyRetry:
			return err
		case v == ambiguous && !ep.idempotent:
			return &OutcomeUnknownError{Method: ep.method, Key: key, Err: err}
		}
		if attempt >= c.retry.MaxAttempts {
			return err
		}
		if ctx.Err() != nil {
			return withContext(ctx, err)
		}
		wait := c.retry.backoff(attempt)
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: retrying", slog.String("method", ep.method),
			slog.Int("attempt", attempt), slog.Duration("wait", wait), slog.String("error", err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return withContext(ctx, err)
		case <-t.C:
		}
	}
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
	v, err := c.judge(ctx, ep, status, buf.Bytes(), cred, dec)
	err = withoutSign(err, sign)
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
// cred is the credential the request carried, redacted from any sample.
func (c *Client) judge(ctx context.Context, ep *endpoint, status int, body []byte, cred string, dec decoder) (verdict, error) {
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
	if err := dec.decode(body); err != nil {
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
	h := dec.header()
	if h.success {
		if h.dataErr == nil {
			return done, nil
		}
		if !ep.idempotent {
			// The gateway applied the call; an error here would read as
			// "not applied" and invite a resend that applies it twice. The
			// result carries zero values where the data did not decode.
			c.log.LogAttrs(ctx, slog.LevelWarn, "ump: call applied, but its data does not decode",
				slog.String("method", ep.method), slog.String("error", h.dataErr.Error()))
			return done, nil
		}
		return done, c.responseError(ep, status, body, cred, fmt.Errorf("success, but data does not decode: %w", h.dataErr))
	}
	if h.empty && ep.blankIsSuccess && status == http.StatusOK {
		return done, nil
	}
	apiErr := &APIError{Method: ep.method, HTTPStatus: status, Code: h.code, Message: c.scrub(h.message, cred)}
	switch {
	case status == http.StatusUnauthorized || c.tokenInvalid[h.code]:
		apiErr.tokenInvalid = true
		return tokenRejected, apiErr
	case h.code == 500:
		return busy, apiErr
	case h.silent && status >= 500:
		return ambiguous, apiErr
	}
	return done, apiErr
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

// withoutSign removes the request's sign from a failure's message or
// sample: a gateway may echo it bare (a sign-mismatch message showing the
// sign it got), where the redaction of "sign=..." does not see it.
func withoutSign(err error, sign string) error {
	if err == nil {
		return nil
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Message = strings.ReplaceAll(apiErr.Message, sign, "***")
	}
	var respErr *ResponseError
	if errors.As(err, &respErr) {
		respErr.Sample = strings.ReplaceAll(respErr.Sample, sign, "***")
	}
	return err
}

func (c *Client) responseError(ep *endpoint, status int, body []byte, cred string, err error) *ResponseError {
	return &ResponseError{Method: ep.method, HTTPStatus: status, Sample: redact.Sample(body, 120, c.appSecret, cred), Err: err}
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

// PageRequest selects one page of a paged call. Zero values take the
// gateway's defaults (page 1; the page size each call documents).
type PageRequest struct {
	PageNo   int
	PageSize int
}

// MaxPageSize is the largest page size the SDK asks a paged call for. The
// document names no limit; larger pages risk the answer size cap.
const MaxPageSize = 100

// Page is one page of a paged call's answer: the items, and the paging
// fields the gateway answered (the requested page and size where it did not
// say).
type Page[T any] struct {
	Items      []T
	PageNo     int
	PageSize   int
	TotalCount int
}

// pageParams checks req against the bounds every paged call shares and fills
// in the call's default size. noField and sizeField are the call's own wire
// names (3.5 spells them pageNo/pageSize, 3.8 and 5.5 page_no/page_size).
func (v *checker) pageParams(req PageRequest, noField, sizeField string, defaultSize int) PageRequest {
	if req.PageNo < 0 {
		v.add(noField, "must be 1 or more (0 for the first page)")
	}
	if req.PageSize < 0 || req.PageSize > MaxPageSize {
		v.add(sizeField, fmt.Sprintf("must be 1 to %d (0 for the default of %d)", MaxPageSize, defaultSize))
	}
	return PageRequest{PageNo: max(req.PageNo, 1), PageSize: cmp.Or(req.PageSize, defaultSize)}
}

// listPage is the shared path of every paged call: it sends body, decodes a
// page of wire items W and converts each to T. req is the page asked for.
func listPage[W, T any](ctx context.Context, c *Client, ep *endpoint, body any, req PageRequest, convert func(*W) T) (*Page[T], error) {
	data, pg, err := call[[]W](ctx, c, ep, body)
	if err != nil {
		return nil, err
	}
	out := &Page[T]{
		Items:  make([]T, len(data)),
		PageNo: cmp.Or(int(pg.PageNo), req.PageNo), PageSize: cmp.Or(int(pg.PageSize), req.PageSize),
		TotalCount: int(pg.TotalCount),
	}
	for i := range data {
		out.Items[i] = convert(&data[i])
	}
	return out, nil
}

// allPages walks a paged call from req's page on, yielding every item, until
// TotalCount items were seen or a page comes back short or empty. list is
// the call for one page; it gets a copy of req with the page number set, so
// the caller's request is never changed. An error is yielded once and ends
// the walk.
func allPages[T any](ctx context.Context, req PageRequest, list func(context.Context, PageRequest) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		// Copies: the sequence may be walked more than once. A bad page
		// number goes to list as it is, so that it is reported.
		first, size := cmp.Or(req.PageNo, 1), req.PageSize
		seen := (first - 1) * max(size, 0)
		for no := first; ; no++ {
			p, err := list(ctx, PageRequest{PageNo: no, PageSize: size})
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if size <= 0 { // the caller took the gateway's default size
				// An answer without pageSize: its first page shows the size.
				size = max(p.PageSize, len(p.Items))
				seen = (first - 1) * size
			}
			seen += len(p.Items)
			if len(p.Items) == 0 || len(p.Items) < size || (p.TotalCount > 0 && seen >= p.TotalCount) {
				return
			}
		}
	}
}
