package ump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// Store returns the token store the service reads and writes.
func (s *AuthService) Store() TokenStore { return s.store }

// Obtain calls 2.1 and stores the fresh token, spending the day's one obtain.
// The platform allows it once a day and the new token retires the one every
// other holder uses: the SDK calls it by itself only when no usable refresh
// token exists, so call it yourself only to bootstrap an app.
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
	return s.obtain(ctx, st, false)
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
	return json.Marshal(struct {
		Store            string
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
		Spent            TokenDay
		Pause            TokenPause
		Budget           TokenBudget
	}{ts.Store, redact.Credential(t.AccessToken), redact.Credential(t.RefreshToken), t.AccessExpiresAt, t.RefreshExpiresAt,
		t.ObtainedAt, t.RefreshedAt, t.Version, ts.Day, ts.Obtains, ts.Refreshes, ts.Spent, ts.Pause, ts.Budget})
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

// recover is called when the gateway rejected failed: it renews only if
// failed is still the current token, so a burst of rejections renews once.
func (s *AuthService) recover(ctx context.Context, failed string) error {
	_, err := s.renewed(ctx, failed)
	return err
}

// noteRejected logs, once per rejected token, that the gateway rejected it;
// a token rejected soon after it was issued was most likely retired by an
// obtain elsewhere, and the line says so.
func (s *AuthService) noteRejected(ctx context.Context, failed string) {
	c := s.client
	attrs := []slog.Attr{slog.String("app_id", c.appID), slog.String("store", s.store.String())}
	msg := "ump: the gateway rejected the access token; renewing it"
	if ct := s.cur.Load(); ct != nil && ct.tok.AccessToken == failed {
		if issued := issuedAt(ct.tok); !issued.IsZero() {
			age := c.now().Sub(issued)
			attrs = append(attrs, slog.Duration("token_age", age.Round(time.Second)))
			if age < soonAfterIssue {
				msg = "ump: the gateway rejected an access token issued minutes ago; another process may have obtained a token, which retires this one (a client without the shared token store, or the CLI on another store); renewing it"
			}
		}
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
}

// issuedAt is when t's access token was issued, zero if unknown.
func issuedAt(t Token) time.Time {
	if t.RefreshedAt.After(t.ObtainedAt) {
		return t.RefreshedAt
	}
	return t.ObtainedAt
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
		return s.fallback(ctx, failed, fmt.Errorf("ump: token store %s: %w", s.store, err))
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
		err := s.failedErr
		if !errors.Is(err, ErrTokenCallsPaused) {
			err = fmt.Errorf("ump: token renewal paused until %s after %d failures: %w",
				s.retryAt.In(wire.Beijing).Format(time.TimeOnly), s.failures, err)
		}
		return s.fallback(ctx, failed, err)
	}
	if failed != "" {
		s.noteRejected(ctx, failed)
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

// noteRenewal records the outcome of a renewal in this process; the caller
// holds turn. A fleet-wide pause p, when active, sets when to look again.
func (s *AuthService) noteRenewal(ctx context.Context, err error, p TokenPause) {
	if err == nil {
		s.failures, s.failedErr, s.retryAt = 0, nil, time.Time{}
		return
	}
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return // this caller gave up; that says nothing about the platform
	}
	now := s.client.now()
	s.failures++
	s.failedErr = err
	if p.Active(now) {
		s.retryAt = minTime(p.Until, now.Add(pauseRecheck))
		if !errors.Is(err, ErrTokenCallsPaused) {
			s.failedErr = fmt.Errorf("%w: until %s, %d failed in a row: %w", ErrTokenCallsPaused, beijingClock(p.Until), p.Failures, err)
		}
		return
	}
	pause := maxRenewalPause
	if s.failures < 16 {
		pause = min(renewalPause<<(s.failures-1), maxRenewalPause)
	}
	s.retryAt = now.Add(pause)
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
	issued := issuedAt(t)
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
	// A paused fleet makes no token call: say so without taking the lease.
	if p, err := s.store.Pause(ctx, c.appID); err == nil && p.Active(c.now()) {
		perr := pausedError(p)
		s.noteRenewal(ctx, perr, p)
		return s.fallback(ctx, failed, perr)
	}
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
			if p, err := s.store.Pause(ctx, c.appID); err == nil && p.Active(c.now()) {
				perr := pausedError(p) // the holder's call failed
				s.noteRenewal(ctx, perr, p)
				return s.fallback(ctx, failed, perr)
			}
			continue // the holder gave up or its lease lapsed: try ourselves
		}
		if err != nil {
			err = fmt.Errorf("ump: token lease in %s: %w", s.store, err)
			s.noteRenewal(ctx, err, TokenPause{})
			return s.fallback(ctx, failed, err)
		}
		defer s.release(ctx, release)
		break
	}
	// Reload under the lease: another process may have renewed meanwhile.
	fresh, err := s.store.Load(ctx, c.appID)
	if err != nil {
		return s.fallback(ctx, failed, fmt.Errorf("ump: token store %s: %w", s.store, err))
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
		if errors.Is(err, errRefreshTokenRejected) {
			tok, err = s.afterRefreshTokenRejected(ctx, fresh, err)
		}
	case s.budget.NoAutoObtain:
		err = fmt.Errorf("%w: no usable refresh token and automatic obtaining is off", ErrNoToken)
	default:
		tok, err = s.obtain(ctx, fresh, false)
	}
	var p TokenPause
	if err != nil {
		p, _ = s.store.Pause(ctx, c.appID)
	}
	s.noteRenewal(ctx, err, p)
	if err != nil {
		return s.fallback(ctx, failed, err)
	}
	return tok.AccessToken, nil
}

// afterRefreshTokenRejected obtains a fresh token, once, when the gateway
// refused the refresh token itself and today's obtain is unspent; the caller
// holds the lease. The day's single obtain is what stops a loop: a token
// whose refresh token is refused again must wait for the next day.
func (s *AuthService) afterRefreshTokenRejected(ctx context.Context, st Token, rerr error) (Token, error) {
	c := s.client
	if s.budget.NoAutoObtain {
		return Token{}, fmt.Errorf("%w (%w): automatic obtaining is off; run `ump token bootstrap --yes`", ErrNoToken, rerr)
	}
	day, err := s.store.Spent(ctx, c.appID, BeijingDay(c.now()))
	if err == nil && day.Count(TokenObtain) >= s.budget.ObtainsPerDay {
		return Token{}, fmt.Errorf("%w; %w", rerr, budgetExhausted(day, TokenObtain, s.budget.ObtainsPerDay))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "ump: the gateway refused the refresh token; obtaining a fresh token once (today's obtain)",
		slog.String("app_id", c.appID), slog.String("store", s.store.String()), slog.String("error", rerr.Error()))
	tok, err := s.obtain(ctx, st, true)
	if err != nil {
		return Token{}, fmt.Errorf("%w; obtaining instead failed: %w", rerr, err)
	}
	return tok, nil
}

// errRefreshTokenRejected marks a refresh the gateway refused because of
// the refresh token itself (HTTP 401, or a WithTokenInvalidCodes code).
var errRefreshTokenRejected = errors.New("the gateway refused the refresh token")

// usableNow returns the in-memory token if it still works and is not the
// one being recovered from.
func (s *AuthService) usableNow(recovering bool) (string, bool) {
	ct := s.cur.Load()
	if ct == nil || recovering || !ct.tok.Usable(s.client.now()) {
		return "", false
	}
	return ct.tok.AccessToken, true
}

// awaitChange polls the store until the record's version moves past version,
// a fleet-wide pause appears (the holder's call failed), or the lease could
// have lapsed.
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
			if p, err := s.store.Pause(ctx, s.client.appID); err == nil && p.Active(s.client.now()) {
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
// afterRejection says it follows a refused refresh token at once, which set
// the fleet-wide pause that this obtain may pass.
func (s *AuthService) obtain(ctx context.Context, st Token, afterRejection bool) (Token, error) {
	ctx, cancel, err := s.detach(ctx)
	if err != nil {
		return Token{}, err
	}
	defer cancel()
	c := s.client
	now := c.now()
	d, err := s.spendAndCall(ctx, TokenObtain, s.budget.ObtainsPerDay, afterRejection, func(ctx context.Context) (tokenData, error) {
		c.log.LogAttrs(ctx, slog.LevelWarn, "ump: obtaining a fresh token: it retires the token every other holder has, so every process of this app must share this token store",
			slog.String("app_id", c.appID), slog.String("store", s.store.String()))
		d, _, err := callAs[tokenData](ctx, c, &epObtain, nil, c.appID)
		return d, err
	})
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
// token; store says whether to write the result to the store. A refusal of
// the refresh token itself matches errRefreshTokenRejected.
func (s *AuthService) refresh(ctx context.Context, st Token, limit int, store bool) (Token, error) {
	ctx, cancel, err := s.detach(ctx)
	if err != nil {
		return Token{}, err
	}
	defer cancel()
	c := s.client
	now := c.now()
	d, err := s.spendAndCall(ctx, TokenRefresh, limit, false, func(ctx context.Context) (tokenData, error) {
		c.log.LogAttrs(ctx, slog.LevelInfo, "ump: refreshing the access token", slog.String("app_id", c.appID))
		d, _, err := callAs[tokenData](ctx, c, &epRefresh, nil, st.RefreshToken)
		if errors.Is(err, ErrTokenInvalid) {
			err = fmt.Errorf("%w: %w", errRefreshTokenRejected, err)
		}
		return d, err
	})
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

// spendAndCall makes one token call of kind under the caller's lease: it
// honours the fleet-wide pause (unless passPause), spends from the day's
// budget (within limit) before calling, gives the spend back when the call
// was refused and so issued nothing, and pauses the fleet after a failure.
func (s *AuthService) spendAndCall(ctx context.Context, kind TokenCall, limit int, passPause bool, send func(context.Context) (tokenData, error)) (tokenData, error) {
	c := s.client
	now := c.now()
	p, err := s.store.Pause(ctx, c.appID)
	if err != nil {
		return tokenData{}, fmt.Errorf("ump: %s refused: token store %s: %w", kind, s.store, err)
	}
	if p.Active(now) && !passPause {
		return tokenData{}, fmt.Errorf("ump: %s refused: %w", kind, pausedError(p))
	}
	sp := TokenSpend{Kind: kind, Day: BeijingDay(now), Nonce: LeaseID(), At: now, By: s.holder}
	day, counted, err := s.store.Spend(ctx, c.appID, sp, limit)
	if err != nil {
		return tokenData{}, fmt.Errorf("ump: %s refused: token store %s: %w", kind, s.store, err)
	}
	if !counted {
		return tokenData{}, fmt.Errorf("ump: %s refused: %w", kind, budgetExhausted(day, kind, limit))
	}
	d, err := send(ctx)
	if err == nil {
		if p != (TokenPause{}) {
			if perr := s.store.SetPause(ctx, c.appID, TokenPause{}); perr != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "ump: clearing the token-call pause failed", slog.String("error", perr.Error()))
			}
		}
		return d, nil
	}
	refused := issuedNothing(err)
	if refused {
		if gerr := s.store.GiveBack(ctx, c.appID, sp); gerr != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "ump: giving back a refused token call's budget failed; it stays counted",
				slog.String("call", kind.String()), slog.String("error", gerr.Error()))
			refused = false
		}
	}
	next := s.nextPause(p, now, err)
	if perr := s.store.SetPause(ctx, c.appID, next); perr != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "ump: storing the token-call pause failed", slog.String("error", perr.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "ump: token call failed; every process sharing the store waits before the next",
		slog.String("call", kind.String()), slog.Bool("budget_given_back", refused), slog.Time("paused_until", next.Until),
		slog.String("store", s.store.String()), slog.String("error", err.Error()))
	return d, err
}

// nextPause is the pause after a token call failed at now with err.
func (s *AuthService) nextPause(prev TokenPause, now time.Time, err error) TokenPause {
	n := 1
	if prev.Failures > 0 && now.Sub(prev.Until) < maxTokenPause {
		n = prev.Failures + 1 // still failing: wait longer
	}
	wait := maxTokenPause
	if n < 8 {
		wait = min(tokenPause<<(n-1), maxTokenPause)
	}
	return TokenPause{Until: now.Add(wait), Failures: n, Reason: err.Error(), At: now, By: s.holder}
}

// pausedError describes an active pause.
func pausedError(p TokenPause) error {
	return fmt.Errorf("%w: until %s (%d failed in a row, the last at %s by %s: %s)", ErrTokenCallsPaused,
		beijingClock(p.Until), p.Failures, beijingClock(p.At), cmpOr(p.By, "an unnamed process"), p.Reason)
}

// issuedNothing reports whether a token call that failed with err cannot
// have issued a token: the gateway refused it (any error envelope), a proxy
// answered an error page before the gateway (HTTP 4xx or 5xx other than a
// gateway timeout, after which the gateway may have answered), or the
// request path judged it never sent. A timeout, a lost or cut-off answer
// may have issued one, and keeps its spend.
func issuedNothing(err error) bool {
	if !errors.Is(err, ErrOutcomeUnknown) {
		return true // a definite failure: the request path says so
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return true
	}
	var respErr *ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatus >= 400 && respErr.HTTPStatus != http.StatusGatewayTimeout
}

// save writes next over version and makes it current. A store failure is
// logged, not returned: the platform already issued the token, and losing it
// from memory too would cost another budgeted call. A conflict means the
// lease lapsed and another holder wrote a newer record: the version fences
// this one out, and it is kept in memory only until the gateway says which
// token it honours.
func (s *AuthService) save(ctx context.Context, version int64, next Token) Token {
	c := s.client
	stored, err := s.store.CompareAndSwap(ctx, c.appID, version, next)
	if err != nil {
		level, msg := slog.LevelError, "ump: storing the new token failed; keeping it in memory"
		if errors.Is(err, ErrTokenConflict) {
			level, msg = slog.LevelWarn, "ump: another holder stored a newer token while this one renewed (the lease lapsed); not overwriting it"
		}
		c.log.LogAttrs(ctx, level, msg, slog.String("store", s.store.String()), slog.String("error", err.Error()))
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
