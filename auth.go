package ump

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// AuthService obtains, refreshes and caches the access token (section 2).
type AuthService struct {
	service
	store  TokenStore
	window time.Duration
	budget TokenBudget
	// leaseTTL outlives one token call, so a lease never lapses mid-call.
	leaseTTL time.Duration
	// holder names this process in spends and pauses ("host/pid").
	holder string

	cur atomic.Pointer[cachedToken]
	// turn lets one goroutine of this process renew at a time; it is a
	// channel so that waiting for it respects the context.
	turn chan struct{}

	// Guarded by turn: consecutive renewal failures, the last one, and when
	// this process tries again. The fleet-wide pause (TokenPause) governs
	// token calls; this one only spares the store a visit per request.
	failures  int
	failedErr error
	retryAt   time.Time

	// Guarded by turn: the token the last recovery from a rejection
	// produced, when, and how many recoveries in a row produced a token
	// that was rejected again. A rejection that a new token does not cure
	// (a proxy's 401, a misconfigured code) would otherwise spend one of
	// the day's refreshes per call.
	recoveredTo    string
	recoveredAt    time.Time
	recoveryStreak int
}

// Pauses. A failed token call pauses every process sharing the store for
// tokenPause, doubling per failure in a row up to maxTokenPause. A process
// that failed to renew for another reason (the store, the lease) waits
// renewalPause, doubling up to maxRenewalPause, and looks at the store's
// pause again at least every pauseRecheck, so that an operator's
// `ump token reset-budget` takes effect quickly.
const (
	tokenPause      = time.Minute
	maxTokenPause   = time.Hour
	renewalPause    = 5 * time.Second
	maxRenewalPause = 5 * time.Minute
	pauseRecheck    = 10 * time.Second
)

// recoveryQuiet is how long a token produced by a recovery must have worked
// before its own rejection may cost another refresh; it doubles with every
// recovery in a row whose token was rejected again, up to maxRecoveryQuiet.
const (
	recoveryQuiet    = time.Minute
	maxRecoveryQuiet = 2 * time.Hour
)

// soonAfterIssue: a token rejected this soon after it was issued was most
// likely retired by an obtain elsewhere, not by age.
const soonAfterIssue = 30 * time.Minute

// cachedToken is the in-memory token and when to renew it.
type cachedToken struct {
	tok       Token
	refreshAt time.Time
}

func newAuthService(c *Client, store TokenStore, window time.Duration, budget TokenBudget) *AuthService {
	return &AuthService{
		service:  service{client: c},
		store:    store,
		window:   window,
		budget:   budget,
		leaseTTL: leaseTTL(c.rc.GetClient().Timeout, c.retry),
		holder:   processName(),
		turn:     make(chan struct{}, 1),
	}
}

// leaseTTL outlives a whole token call, every attempt and backoff wait
// included: a lease that lapsed mid-call would let a second process spend a
// refresh too.
func leaseTTL(timeout time.Duration, p RetryPolicy) time.Duration {
	return time.Duration(p.MaxAttempts)*timeout + time.Duration(p.MaxAttempts-1)*p.MaxBackoff + 5*time.Second
}

var (
	epObtain  = endpoint{method: "dss.auth.token.query", cred: credAppID}
	epRefresh = endpoint{method: "dss.auth.token.refresh", cred: credRefreshToken}
)

// tokenData is the data of 2.1 and 2.2 (2.2 has no refresh_token).
type tokenData struct {
	AccessToken  wire.String `json:"access_token"`
	RefreshToken wire.String `json:"refresh_token"`
	ExpireIn     wire.Int64  `json:"expire_in"`
}

// Obtain calls 2.1 and stores the fresh token, spending the day's one obtain.
// The platform allows it once a day and the new token retires the one every
// other holder uses: the SDK calls it by itself only when no usable refresh
// token exists, so call it yourself only to bootstrap an app.
func (s *AuthService) Obtain(ctx context.Context) (Token, error) {
	st, release, err := s.leaseAndLoad(ctx, "obtain")
	if err != nil {
		return Token{}, err
	}
	defer release()
	return s.obtain(ctx, st)
}

// leaseAndLoad takes the token store's lease and loads the stored token for
// the explicit call op; the caller runs release when done. An error names
// op, and leaves no lease held.
func (s *AuthService) leaseAndLoad(ctx context.Context, op string) (st Token, release func(), err error) {
	c := s.client
	lease, err := s.store.Lease(ctx, c.appID, s.leaseTTL)
	if err != nil {
		return Token{}, nil, fmt.Errorf("ump: %s: %w", op, err)
	}
	release = func() { s.release(ctx, lease) }
	st, err = s.store.Load(ctx, c.appID)
	if err != nil {
		release()
		return Token{}, nil, fmt.Errorf("ump: %s: token store: %w", op, err)
	}
	return st, release, nil
}

// Refresh calls 2.2 with refreshToken and returns the new access token,
// spending one of the day's refreshes. If refreshToken is the stored one, the
// stored record is updated too.
func (s *AuthService) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, &ValidationError{Method: epRefresh.method, Fields: []FieldError{{"refresh_token", "required"}}}
	}
	st, release, err := s.leaseAndLoad(ctx, "refresh")
	if err != nil {
		return Token{}, err
	}
	defer release()
	if st.RefreshToken != refreshToken {
		st = Token{RefreshToken: refreshToken, RefreshExpiresAt: s.client.now().Add(RefreshTokenLifetime)}
		return s.refresh(ctx, st, s.budget.RefreshesPerDay, false, false)
	}
	return s.refresh(ctx, st, s.budget.RefreshesPerDay, true, false)
}

// AccessToken returns a valid access token: the cached one, or one renewed
// when it is within the refresh window of expiring. Concurrent callers share
// one renewal, and across processes the token store's lease lets only one
// process call the platform. It refuses to exceed the day's token budget.
func (s *AuthService) AccessToken(ctx context.Context) (string, error) {
	if ct := s.cur.Load(); ct != nil && s.client.now().Before(ct.refreshAt) {
		return ct.tok.AccessToken, nil
	}
	return s.renewed(ctx, "")
}

// TokenStatus describes the app's token without revealing it.
type TokenStatus struct {
	// Store describes the store the status was read from (TokenStore.String).
	Store string
	// Token is the stored record; print it, it is redacted.
	Token Token
	// Day is the Beijing date the counts are for.
	Day string
	// Obtains and Refreshes are the calls spent on Day.
	Obtains, Refreshes int
	// Spent lists Day's counted calls: when, and by which process.
	Spent TokenDay
	// Pause is the fleet-wide pause after a failed token call (zero if
	// none was set).
	Pause TokenPause
	// Budget is the allowance the counts are measured against.
	Budget TokenBudget
}

// MarshalJSON encodes the status for a health endpoint or a JSON log
// without the tokens (Token itself encodes in full, for token stores).
func (ts TokenStatus) MarshalJSON() ([]byte, error) {
	t := ts.Token
	t.AccessToken, t.RefreshToken = redact.Credential(t.AccessToken), redact.Credential(t.RefreshToken)
	return json.Marshal(struct {
		Store              string
		Token              // embedded, so its fields stand inline after Store
		Day                string
		Obtains, Refreshes int
		Spent              TokenDay
		Pause              TokenPause
		Budget             TokenBudget
	}{ts.Store, t, ts.Day, ts.Obtains, ts.Refreshes, ts.Spent, ts.Pause, ts.Budget})
}

// Status reads the stored token, today's token calls and the fleet-wide
// pause, spending nothing: for operators and health checks. It names the
// store it read, so that a process looking at the wrong store shows it.
func (s *AuthService) Status(ctx context.Context) (TokenStatus, error) {
	c := s.client
	where := s.store.String()
	st, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return TokenStatus{}, fmt.Errorf("ump: token store %s: %w", where, err)
	}
	day, err := s.store.Spent(ctx, c.appID, BeijingDay(c.now()))
	if err != nil {
		return TokenStatus{}, fmt.Errorf("ump: token store %s: %w", where, err)
	}
	p, err := s.store.Pause(ctx, c.appID)
	if err != nil {
		return TokenStatus{}, fmt.Errorf("ump: token store %s: %w", where, err)
	}
	return TokenStatus{Store: where, Token: st, Day: day.Day, Obtains: day.Count(TokenObtain), Refreshes: day.Count(TokenRefresh),
		Spent: day, Pause: p, Budget: s.budget}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
