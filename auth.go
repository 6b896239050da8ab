package ump

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// The platform's token rules (sections 2.1 and 2.2).
const (
	// ObtainsPerDay is how often a fresh token may be obtained a day.
	ObtainsPerDay = 1
	// RefreshesPerDay is how often a token may be refreshed a day.
	RefreshesPerDay = 20
	// RefreshTokenLifetime is how long a refresh token lives (one year; the
	// SDK stops trusting it a day early).
	RefreshTokenLifetime = 364 * 24 * time.Hour
)

// Token is the record of an app's credentials that a TokenStore keeps.
// Its String, GoString and LogValue methods never reveal the tokens.
type Token struct {
	AccessToken     string
	RefreshToken    string
	AccessExpiresAt time.Time
	// RefreshExpiresAt is when the refresh token stops working.
	RefreshExpiresAt time.Time
	// ObtainedAt is when the refresh token was obtained (2.1).
	ObtainedAt time.Time
	// RefreshedAt is when the access token was last refreshed (2.2).
	RefreshedAt time.Time
	// Version increases with every write; 0 means no token is stored.
	Version int64
}

// Usable reports whether the access token has not expired at now.
func (t Token) Usable(now time.Time) bool {
	return t.AccessToken != "" && now.Before(t.AccessExpiresAt)
}

// Refreshable reports whether the refresh token has not expired at now.
func (t Token) Refreshable(now time.Time) bool {
	return t.RefreshToken != "" && now.Before(t.RefreshExpiresAt)
}

// String describes the token without revealing it.
func (t Token) String() string {
	if t.Version == 0 && t.AccessToken == "" {
		return "ump.Token{none}"
	}
	return fmt.Sprintf("ump.Token{access:%s expires:%s refresh:%s refreshExpires:%s version:%d}",
		redact.Credential(t.AccessToken), t.AccessExpiresAt.Format(time.RFC3339),
		redact.Credential(t.RefreshToken), t.RefreshExpiresAt.Format(time.RFC3339), t.Version)
}

// GoString is String, so that %#v does not reveal the tokens either.
func (t Token) GoString() string { return t.String() }

// LogValue implements slog.LogValuer without revealing the tokens.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Time("access_expires", t.AccessExpiresAt),
		slog.Time("refresh_expires", t.RefreshExpiresAt),
		slog.Int64("version", t.Version),
	)
}

// TokenCall is a kind of token call that the daily budget counts.
type TokenCall uint8

const (
	// TokenObtain is 2.1, obtaining a fresh token (once a day).
	TokenObtain TokenCall = iota + 1
	// TokenRefresh is 2.2, refreshing the access token (20 a day).
	TokenRefresh
)

// String returns "obtain" or "refresh".
func (k TokenCall) String() string {
	switch k {
	case TokenObtain:
		return "obtain"
	case TokenRefresh:
		return "refresh"
	}
	return "TokenCall(" + fmt.Sprint(uint8(k)) + ")"
}

// Errors a TokenStore returns.
var (
	// ErrTokenConflict: CompareAndSwap found another version stored.
	ErrTokenConflict = errors.New("ump: token record changed concurrently")
	// ErrLeaseHeld: another holder has the renewal lease.
	ErrLeaseHeld = errors.New("ump: token renewal lease held elsewhere")
)

// TokenStore keeps one token record per app id, the day's counts of token
// calls, and a lease that lets one process in a fleet renew at a time.
// Implementations must be safe for concurrent use. The memory store is the
// default; packages tokenstore/filestore and tokenstore/redisstore share the
// record across restarts and processes.
type TokenStore interface {
	// Load returns the stored record, or a zero Token (Version 0) if none.
	Load(ctx context.Context, appID string) (Token, error)
	// CompareAndSwap stores t if the stored version is still oldVersion
	// (0: nothing stored) and returns t with its new version; otherwise it
	// returns ErrTokenConflict and stores nothing.
	CompareAndSwap(ctx context.Context, appID string, oldVersion int64, t Token) (Token, error)
	// Spend counts one call of kind on day (a Beijing date, "2006-01-02")
	// if fewer than limit were counted, and returns the new count; otherwise
	// it returns the count and an error matching ErrTokenBudgetExhausted.
	// The SDK spends before it calls, so a crash never undercounts.
	Spend(ctx context.Context, appID string, kind TokenCall, day string, limit int) (int, error)
	// Spent returns the counts of day without changing them.
	Spent(ctx context.Context, appID string, day string) (obtains, refreshes int, err error)
	// Lease takes the renewal lease for ttl, or returns ErrLeaseHeld. The
	// returned release gives it up only if it is still this holder's.
	Lease(ctx context.Context, appID string, ttl time.Duration) (release func(context.Context) error, err error)
}

// TokenBudget is the daily allowance of token calls the SDK allows itself.
type TokenBudget struct {
	// ObtainsPerDay caps obtains (2.1); the platform allows 1.
	ObtainsPerDay int
	// RefreshesPerDay caps refreshes (2.2); the platform allows 20.
	RefreshesPerDay int
	// RefreshHeadroom is kept back from proactive refreshes (those made
	// while the token still works) for renewing an expired or rejected one.
	RefreshHeadroom int
	// NoAutoObtain stops the SDK from obtaining a token by itself when no
	// usable refresh token exists; run Auth.Obtain from an operator's tool.
	NoAutoObtain bool
}

// DefaultTokenBudget follows the platform's limits and keeps 4 refreshes of
// headroom.
var DefaultTokenBudget = TokenBudget{ObtainsPerDay: ObtainsPerDay, RefreshesPerDay: RefreshesPerDay, RefreshHeadroom: 4}

func (b TokenBudget) validate() error {
	switch {
	case b.ObtainsPerDay < 0 || b.ObtainsPerDay > ObtainsPerDay:
		return fmt.Errorf("ump: TokenBudget.ObtainsPerDay %d is outside 0..%d", b.ObtainsPerDay, ObtainsPerDay)
	case b.RefreshesPerDay < 0 || b.RefreshesPerDay > RefreshesPerDay:
		return fmt.Errorf("ump: TokenBudget.RefreshesPerDay %d is outside 0..%d", b.RefreshesPerDay, RefreshesPerDay)
	case b.RefreshHeadroom < 0 || b.RefreshHeadroom > b.RefreshesPerDay:
		return fmt.Errorf("ump: TokenBudget.RefreshHeadroom %d is outside 0..RefreshesPerDay", b.RefreshHeadroom)
	}
	return nil
}

// BeijingDay returns the Beijing calendar date of t, the key of the daily
// token budget.
func BeijingDay(t time.Time) string { return t.In(wire.Beijing).Format(wire.DateLayout) }

// AuthService obtains, refreshes and caches the access token (section 2).
type AuthService struct {
	service
	store  TokenStore
	window time.Duration
	budget TokenBudget
	// leaseTTL outlives one token call, so a lease never lapses mid-call.
	leaseTTL time.Duration

	cur atomic.Pointer[cachedToken]
	// turn lets one goroutine of this process renew at a time; it is a
	// channel so that waiting for it respects the context.
	turn chan struct{}

	// Guarded by turn: consecutive renewal failures, the last one, and when
	// to try again. Without this pause every request after a failed refresh
	// (gateway busy, refresh token rejected) would spend another of the
	// day's 20 refreshes.
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

// Pauses after a failed renewal: renewalPause, doubling per consecutive
// failure up to maxRenewalPause.
const (
	renewalPause    = 5 * time.Second
	maxRenewalPause = 5 * time.Minute
)

// recoveryQuiet is how long a token produced by a recovery must have worked
// before its own rejection may cost another refresh; it doubles with every
// recovery in a row whose token was rejected again, up to maxRecoveryQuiet.
const (
	recoveryQuiet    = time.Minute
	maxRecoveryQuiet = 2 * time.Hour
)

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
// The platform allows it once a day: the SDK calls it by itself only when no
// usable refresh token exists, so call it yourself only to bootstrap an app.
func (s *AuthService) Obtain(ctx context.Context) (Token, error) {
	c := s.client
	release, err := s.store.Lease(ctx, c.appID, s.leaseTTL)
	if err != nil {
		return Token{}, fmt.Errorf("ump: obtain: %w", err)
	}
	defer s.release(ctx, release)
	st, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return Token{}, fmt.Errorf("ump: obtain: token store: %w", err)
	}
	return s.obtain(ctx, st)
}

// Refresh calls 2.2 with refreshToken and returns the new access token,
// spending one of the day's refreshes. If refreshToken is the stored one, the
// stored record is updated too.
func (s *AuthService) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	if refreshToken == "" {
		return Token{}, &ValidationError{Method: epRefresh.method, Fields: []FieldError{{"refresh_token", "required"}}}
	}
	c := s.client
	release, err := s.store.Lease(ctx, c.appID, s.leaseTTL)
	if err != nil {
		return Token{}, fmt.Errorf("ump: refresh: %w", err)
	}
	defer s.release(ctx, release)
	st, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return Token{}, fmt.Errorf("ump: refresh: token store: %w", err)
	}
	if st.RefreshToken != refreshToken {
		st = Token{RefreshToken: refreshToken, RefreshExpiresAt: c.now().Add(RefreshTokenLifetime)}
		return s.refresh(ctx, st, s.budget.RefreshesPerDay, false)
	}
	return s.refresh(ctx, st, s.budget.RefreshesPerDay, true)
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
	// Token is the stored record; print it, it is redacted.
	Token Token
	// Day is the Beijing date the counts are for.
	Day string
	// Obtains and Refreshes are the calls spent on Day.
	Obtains, Refreshes int
	// Budget is the allowance the counts are measured against.
	Budget TokenBudget
}

// MarshalJSON encodes the status for a health endpoint or a JSON log
// without the tokens (Token itself encodes in full, for token stores).
func (ts TokenStatus) MarshalJSON() ([]byte, error) {
	t := ts.Token
	return json.Marshal(struct {
		AccessToken      string
		RefreshToken     string
		AccessExpiresAt  time.Time
		RefreshExpiresAt time.Time
		ObtainedAt       time.Time
		RefreshedAt      time.Time
		Version          int64
		Day              string
		Obtains          int
		Refreshes        int
		Budget           TokenBudget
	}{redact.Credential(t.AccessToken), redact.Credential(t.RefreshToken), t.AccessExpiresAt, t.RefreshExpiresAt,
		t.ObtainedAt, t.RefreshedAt, t.Version, ts.Day, ts.Obtains, ts.Refreshes, ts.Budget})
}

// Status reads the stored token and today's token-call counts, spending
// nothing: for operators and health checks.
func (s *AuthService) Status(ctx context.Context) (TokenStatus, error) {
	c := s.client
	st, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return TokenStatus{}, fmt.Errorf("ump: token store: %w", err)
	}
	day := BeijingDay(c.now())
	o, r, err := s.store.Spent(ctx, c.appID, day)
	if err != nil {
		return TokenStatus{}, fmt.Errorf("ump: token store: %w", err)
	}
	return TokenStatus{Token: st, Day: day, Obtains: o, Refreshes: r, Budget: s.budget}, nil
}

// recover is called when the gateway rejected failed: it renews only if
// failed is still the current token, so a burst of rejections renews once.
func (s *AuthService) recover(ctx context.Context, failed string) error {
	_, err := s.renewed(ctx, failed)
	return err
}

// renewed is the slow path of AccessToken. failed, when set, is a token the
// gateway rejected.
func (s *AuthService) renewed(ctx context.Context, failed string) (string, error) {
	c := s.client
	select {
	case s.turn <- struct{}{}:
	default:
		// Someone in this process is renewing: keep using a token that
		// still works rather than queueing behind the call.
		if ct := s.cur.Load(); failed == "" && ct != nil && ct.tok.Usable(c.now()) {
			return ct.tok.AccessToken, nil
		}
		select {
		case s.turn <- struct{}{}:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	defer func() { <-s.turn }()

	now := c.now()
	if ct := s.cur.Load(); ct != nil && s.good(ct, now, failed) {
		return ct.tok.AccessToken, nil
	}
	st, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return s.fallback(ctx, failed, fmt.Errorf("ump: token store: %w", err))
	}
	if ct := s.adopt(st); ct != nil && s.good(ct, now, failed) {
		return ct.tok.AccessToken, nil
	}
	again := failed != "" && failed == s.recoveredTo
	if quiet := min(recoveryQuiet<<min(s.recoveryStreak, 8), maxRecoveryQuiet); again && now.Sub(s.recoveredAt) < quiet {
		return "", fmt.Errorf("%w: the token a refresh issued %v ago was rejected too; not refreshing again for %v",
			ErrTokenInvalid, now.Sub(s.recoveredAt).Round(time.Second), quiet)
	}
	if now.Before(s.retryAt) {
		return s.fallback(ctx, failed, fmt.Errorf("ump: token renewal paused until %s after %d failures: %w",
			s.retryAt.In(wire.Beijing).Format(time.TimeOnly), s.failures, s.failedErr))
	}
	tok, err := s.renew(ctx, st, failed)
	if failed != "" && err == nil {
		if again {
			s.recoveryStreak++
		} else {
			s.recoveryStreak = 0
		}
		s.recoveredTo, s.recoveredAt = tok, c.now()
	}
	return tok, err
}

// noteRenewal records the outcome of a renewal that may have called the
// platform; the caller holds turn.
func (s *AuthService) noteRenewal(ctx context.Context, err error) {
	if err == nil {
		s.failures, s.failedErr, s.retryAt = 0, nil, time.Time{}
		return
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return // this caller gave up; that says nothing about the platform
	}
	s.failures++
	pause := maxRenewalPause
	if s.failures < 16 {
		pause = min(renewalPause<<(s.failures-1), maxRenewalPause)
	}
	s.failedErr, s.retryAt = err, s.client.now().Add(pause)
}

// good reports whether ct can be handed out: not due for renewal, or, when
// recovering from a rejection, a different token that has not expired.
func (s *AuthService) good(ct *cachedToken, now time.Time, failed string) bool {
	if failed != "" {
		return ct.tok.AccessToken != failed && ct.tok.Usable(now)
	}
	return now.Before(ct.refreshAt)
}

// fallback serves the in-memory token while it works when the store or the
// platform failed; it never turns a failure into a fresh obtain.
func (s *AuthService) fallback(ctx context.Context, failed string, err error) (string, error) {
	if ct := s.cur.Load(); ct != nil && failed == "" && ct.tok.Usable(s.client.now()) {
		s.client.log.LogAttrs(ctx, slog.LevelWarn, "ump: token renewal failed; using the current token until it expires",
			slog.String("error", err.Error()), slog.Time("expires", ct.tok.AccessExpiresAt))
		// Wait a while before trying again, so a failing store or gateway
		// does not cost a budgeted call on every request.
		s.cur.Store(&cachedToken{tok: ct.tok, refreshAt: minTime(s.client.now().Add(time.Minute), ct.tok.AccessExpiresAt)})
		return ct.tok.AccessToken, nil
	}
	return "", err
}

// adopt makes st the in-memory token if it is newer, and returns what is
// current.
func (s *AuthService) adopt(st Token) *cachedToken {
	ct := s.cur.Load()
	if st.Version == 0 || st.AccessToken == "" {
		return ct
	}
	if ct != nil {
		same := ct.tok.Version == st.Version && ct.tok.AccessToken == st.AccessToken
		// Memory runs ahead of the store after a failed write (save): an
		// older record that expires no later is not worth going back to.
		older := st.Version < ct.tok.Version && !st.AccessExpiresAt.After(ct.tok.AccessExpiresAt)
		if same || older {
			return ct
		}
	}
	next := &cachedToken{tok: st, refreshAt: s.dueAt(st)}
	s.cur.Store(next)
	return next
}

// dueAt is when t is due for renewal: the refresh window before it expires,
// but not before half its lifetime has passed, so that a token issued for
// less than the window (a test platform's short expire_in) is not renewed on
// every call.
func (s *AuthService) dueAt(t Token) time.Time {
	due := t.AccessExpiresAt.Add(-s.window)
	issued := t.RefreshedAt
	if t.ObtainedAt.After(issued) {
		issued = t.ObtainedAt
	}
	if !issued.IsZero() && issued.Before(t.AccessExpiresAt) {
		if half := issued.Add(t.AccessExpiresAt.Sub(issued) / 2); due.Before(half) {
			due = half
		}
	}
	return due
}

// renew takes the fleet-wide lease and refreshes (or, with no usable refresh
// token, obtains) the token; st is the record as last loaded, failed the
// rejected token when recovering from a rejection.
func (s *AuthService) renew(ctx context.Context, st Token, failed string) (string, error) {
	c := s.client
	recovering := failed != ""
	for {
		release, err := s.store.Lease(ctx, c.appID, s.leaseTTL)
		if errors.Is(err, ErrLeaseHeld) {
			// Another process is renewing: use what works, or wait for its
			// record to appear.
			if tok, ok := s.usableNow(recovering); ok {
				return tok, nil
			}
			if st, err = s.awaitChange(ctx, st.Version); err != nil {
				return "", err
			}
			if ct := s.adopt(st); ct != nil && s.good(ct, c.now(), failed) {
				return ct.tok.AccessToken, nil
			}
			continue // the holder gave up or its lease lapsed: try ourselves
		}
		if err != nil {
			return s.fallback(ctx, failed, fmt.Errorf("ump: token lease: %w", err))
		}
		defer s.release(ctx, release)
		break
	}
	// Reload under the lease: another process may have renewed meanwhile.
	fresh, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return s.fallback(ctx, failed, fmt.Errorf("ump: token store: %w", err))
	}
	if fresh.Version != st.Version {
		if ct := s.adopt(fresh); ct != nil && s.good(ct, c.now(), failed) {
			return ct.tok.AccessToken, nil
		}
	}
	now := c.now()
	base := fresh
	if ct := s.cur.Load(); !base.Refreshable(now) && ct != nil && ct.tok.Refreshable(now) {
		// The store lost the record (flushed, or a new store) while this
		// process still holds a usable refresh token: refresh with it and
		// write over what is stored, rather than spend the day's obtain.
		base = ct.tok
		base.Version = fresh.Version
	}
	var tok Token
	switch {
	case base.Refreshable(now):
		limit := s.budget.RefreshesPerDay
		if !recovering && base.Usable(now) {
			limit -= s.budget.RefreshHeadroom // proactive: keep the headroom
		}
		tok, err = s.refresh(ctx, base, limit, true)
	case s.budget.NoAutoObtain:
		err = fmt.Errorf("%w: no usable refresh token and automatic obtaining is off", ErrNoToken)
	default:
		tok, err = s.obtain(ctx, fresh)
	}
	s.noteRenewal(ctx, err)
	if err != nil {
		return s.fallback(ctx, failed, err)
	}
	return tok.AccessToken, nil
}

// usableNow returns the in-memory token if it still works and is not the
// one being recovered from.
func (s *AuthService) usableNow(recovering bool) (string, bool) {
	ct := s.cur.Load()
	if ct == nil || recovering || !ct.tok.Usable(s.client.now()) {
		return "", false
	}
	return ct.tok.AccessToken, true
}

// awaitChange polls the store until the record's version moves past version
// or the lease could have lapsed.
func (s *AuthService) awaitChange(ctx context.Context, version int64) (Token, error) {
	deadline := time.NewTimer(s.leaseTTL)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return Token{}, ctx.Err()
		case <-deadline.C:
			return s.store.Load(ctx, s.client.appID)
		case <-tick.C:
			st, err := s.store.Load(ctx, s.client.appID)
			if err == nil && st.Version != version {
				return st, nil
			}
		}
	}
}

func (s *AuthService) release(ctx context.Context, release func(context.Context) error) {
	if err := release(context.WithoutCancel(ctx)); err != nil {
		s.client.log.LogAttrs(ctx, slog.LevelWarn, "ump: releasing the token lease failed", slog.String("error", err.Error()))
	}
}

// detach returns the context for a token call: once the call is budgeted it
// is seen through and its result stored even if the caller that started it
// gives up, because a token call cut off mid-way costs a budgeted call and
// leaves the next caller to spend another. leaseTTL bounds it.
func (s *AuthService) detach(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err // nothing spent yet: give up now
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.leaseTTL)
	return dctx, cancel, nil
}

// obtain spends an obtain and calls 2.1; the caller holds the lease.
func (s *AuthService) obtain(ctx context.Context, st Token) (tok Token, err error) {
	ctx, cancel, err := s.detach(ctx)
	if err != nil {
		return Token{}, err
	}
	defer cancel()
	c := s.client
	now := c.now()
	spent, err := s.store.Spend(ctx, c.appID, TokenObtain, BeijingDay(now), s.budget.ObtainsPerDay)
	defer func(sent bool) { s.tokenCallDone(ctx, TokenObtain, now, spent, sent, tok, err) }(err == nil)
	if err != nil {
		return Token{}, fmt.Errorf("ump: obtain refused: %w", err)
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ump: obtaining a fresh token", slog.String("app_id", c.appID))
	d, err := callToken[tokenData](ctx, c, &epObtain, c.appID)
	if err != nil {
		return Token{}, err
	}
	if d.AccessToken == "" || d.RefreshToken == "" || d.ExpireIn <= 0 {
		return Token{}, &ResponseError{Method: epObtain.method, HTTPStatus: 200, Err: errors.New("token answer lacks access_token, refresh_token or expire_in")}
	}
	next := Token{
		AccessToken: string(d.AccessToken), RefreshToken: string(d.RefreshToken),
		AccessExpiresAt:  now.Add(time.Duration(d.ExpireIn) * time.Second),
		RefreshExpiresAt: now.Add(RefreshTokenLifetime), ObtainedAt: now,
	}
	return s.save(ctx, st.Version, next), nil
}

// refresh spends a refresh (within limit) and calls 2.2 with st's refresh
// token; store says whether to write the result to the store.
func (s *AuthService) refresh(ctx context.Context, st Token, limit int, store bool) (tok Token, err error) {
	ctx, cancel, err := s.detach(ctx)
	if err != nil {
		return Token{}, err
	}
	defer cancel()
	c := s.client
	now := c.now()
	spent, err := s.store.Spend(ctx, c.appID, TokenRefresh, BeijingDay(now), limit)
	defer func(sent bool) { s.tokenCallDone(ctx, TokenRefresh, now, spent, sent, tok, err) }(err == nil)
	if err != nil {
		return Token{}, fmt.Errorf("ump: refresh refused: %w", err)
	}
	c.log.LogAttrs(ctx, slog.LevelInfo, "ump: refreshing the access token", slog.String("app_id", c.appID))
	d, err := callToken[tokenData](ctx, c, &epRefresh, st.RefreshToken)
	if err != nil {
		return Token{}, err
	}
	if d.AccessToken == "" || d.ExpireIn <= 0 {
		return Token{}, &ResponseError{Method: epRefresh.method, HTTPStatus: 200, Err: errors.New("token answer lacks access_token or expire_in")}
	}
	next := st
	next.AccessToken = string(d.AccessToken)
	next.AccessExpiresAt = now.Add(time.Duration(d.ExpireIn) * time.Second)
	next.RefreshedAt = now
	if d.RefreshToken != "" { // not documented, but keep a rotated one
		next.RefreshToken = string(d.RefreshToken)
	}
	if !store {
		return next, nil
	}
	return s.save(ctx, st.Version, next), nil
}

// save writes next over version and makes it current. A store failure is
// logged, not returned: the platform already issued the token, and losing it
// from memory too would cost another budgeted call.
func (s *AuthService) save(ctx context.Context, version int64, next Token) Token {
	c := s.client
	stored, err := s.store.CompareAndSwap(ctx, c.appID, version, next)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelError, "ump: storing the new token failed; keeping it in memory",
			slog.String("error", err.Error()))
		stored = next
		stored.Version = version + 1
	}
	s.cur.Store(&cachedToken{tok: stored, refreshAt: s.dueAt(stored)})
	return stored
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// MemoryTokenStore is a TokenStore that lives as long as the process: the
// default. A restart forgets the token, so services that restart or run in
// several processes should use a shared store.
type MemoryTokenStore struct {
	mu     sync.Mutex
	tokens map[string]Token
	counts map[spendKey]int
	leases map[string]memoryLease
}

type spendKey struct {
	appID, day string
	kind       TokenCall
}

type memoryLease struct {
	id      string
	expires time.Time
}

// NewMemoryTokenStore returns an empty in-memory store.
func NewMemoryTokenStore() *MemoryTokenStore {
	return &MemoryTokenStore{tokens: map[string]Token{}, counts: map[spendKey]int{}, leases: map[string]memoryLease{}}
}

// Load implements TokenStore.
func (m *MemoryTokenStore) Load(_ context.Context, appID string) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[appID], nil
}

// CompareAndSwap implements TokenStore.
func (m *MemoryTokenStore) CompareAndSwap(_ context.Context, appID string, oldVersion int64, t Token) (Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[appID].Version != oldVersion {
		return Token{}, ErrTokenConflict
	}
	t.Version = oldVersion + 1
	m.tokens[appID] = t
	return t, nil
}

// Spend implements TokenStore.
func (m *MemoryTokenStore) Spend(_ context.Context, appID string, kind TokenCall, day string, limit int) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := spendKey{appID, day, kind}
	if m.counts[k] >= limit {
		return m.counts[k], fmt.Errorf("%w: %d of %d %s calls spent on %s", ErrTokenBudgetExhausted, m.counts[k], limit, kind, day)
	}
	m.counts[k]++
	return m.counts[k], nil
}

// Spent implements TokenStore.
func (m *MemoryTokenStore) Spent(_ context.Context, appID string, day string) (int, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[spendKey{appID, day, TokenObtain}], m.counts[spendKey{appID, day, TokenRefresh}], nil
}

// Lease implements TokenStore.
func (m *MemoryTokenStore) Lease(_ context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[appID]; ok && time.Now().Before(l.expires) {
		return nil, ErrLeaseHeld
	}
	id := LeaseID()
	m.leases[appID] = memoryLease{id: id, expires: time.Now().Add(ttl)}
	return func(context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.leases[appID].id == id {
			delete(m.leases, appID)
		}
		return nil
	}, nil
}

// LeaseID returns a random lease holder id, for TokenStore implementations.
func LeaseID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
