package ump

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"
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
	// besides HTTP 401; the document names none (docs/spec-notes.md#15).
	tokenInvalid map[int64]bool
	// hooks is nil unless WithHooks was given; serverHost and serverPort
	// are the gateway's, for the hooks.
	hooks      *Hooks
	serverHost string
	serverPort int
	// clock learns the gateway's clock from its answers (clock.go).
	clock gatewayClock

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

// notBuilt is the panic of a Client, or a service of one, that NewClient did
// not build: a zero ump.Client{} or a nil *Client.
const notBuilt = "ump: Client not built by NewClient (a zero ump.Client{} or a nil *Client): use ump.NewClient"

// built returns c, or panics with notBuilt instead of a nil dereference.
func (c *Client) built() *Client {
	if c == nil || c.rc == nil {
		panic(notBuilt)
	}
	return c
}

// clientOf returns the client a service calls through; every exported
// service method starts with it, so that misuse fails with notBuilt.
func clientOf[S *MemberService | *ScoreService | *OrderService | *CouponService | *SMSService](s S) *Client {
	sv := (*service)(s)
	if sv == nil {
		panic(notBuilt)
	}
	return sv.client.built()
}

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
	// maxConnsPerHost bounds the default transport; see WithMaxConnsPerHost.
	maxConnsPerHost int
	// noClockCorrection: WithClockSkewCorrection(false).
	noClockCorrection bool
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
// The Client copies it and sets the copy's Timeout from WithTimeout and its
// CheckRedirect so that no redirect is followed (a 3xx fails the call with
// a *ResponseError); the caller's value is not modified. The Transport keeps
// its own settings: WithMaxConnsPerHost says which ones matter at peak load.
//
// Tracing at the transport (otelhttp.NewTransport and the like) records
// each request's full URL, and with it the live access_token and the sign,
// which the gateway takes as query parameters: span attributes such as
// url.full then carry credentials to the tracing backend. Trace calls with
// the SDK's own hooks (WithHooks) and its OpenTelemetry adapter, module
// github.com/greedc/ump-go/umpotel, which record the gateway method, status
// and code but neither the token nor the sign; or strip the query in the
// transport's span-naming and attribute options before wrapping.
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

// WithClock sets the source of the current time, used for timestamps (with
// the measured offset of the gateway's clock added; see
// WithClockSkewCorrection), token expiry and the Beijing day of the token
// budget. Tests use it with umptest's controllable clock. The default is
// time.Now.
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
	if err := s.checkTransportOptions(); err != nil {
		return nil, err
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
	c.clock.correct = !s.noClockCorrection
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
func (c *Client) AppID() string { return c.built().appID }
