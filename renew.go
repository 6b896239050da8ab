package ump

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// This file is the renewal of the cached token: single-flight in the
// process, the lease across processes, the pauses, and recovery from a
// rejected token. The token calls themselves are in tokencall.go.

// recover is called when the gateway rejected failed: it renews only if
// failed is still the current token, so a burst of rejections renews once.
func (s *AuthService) recover(ctx context.Context, failed string) error {
	_, err := s.renewed(ctx, failed)
	return err
}

// noteRejected logs, once per rejection that reaches renewal, that the
// gateway rejected the current token;
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
	if failed != "" {
		s.noteRejected(ctx, failed)
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
		tok, err = s.refresh(ctx, base, limit, true, !s.budget.NoAutoObtain)
		if errors.Is(err, errRefreshTokenRejected) {
			tok, err = s.afterRefreshTokenRejected(ctx, fresh, err)
		}
	case s.budget.NoAutoObtain:
		err = fmt.Errorf("%w: no usable refresh token and automatic obtaining is off", ErrNoToken)
	default:
		tok, err = s.obtain(ctx, fresh)
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
	if err != nil || day.Count(TokenObtain) >= s.budget.ObtainsPerDay {
		// No obtain follows: pause the fleet as after any failed call.
		p, _ := s.store.Pause(ctx, c.appID)
		s.pauseFleet(ctx, p, c.now(), rerr)
		if err != nil {
			return Token{}, fmt.Errorf("%w; token store %s: %w", rerr, s.store, err)
		}
		return Token{}, fmt.Errorf("%w; %w", rerr, budgetExhausted(day, TokenObtain, s.budget.ObtainsPerDay))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "ump: the gateway refused the refresh token; obtaining a fresh token once (today's obtain)",
		slog.String("app_id", c.appID), slog.String("store", s.store.String()), slog.String("error", rerr.Error()))
	tok, err := s.obtain(ctx, st)
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
