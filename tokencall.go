package ump

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// This file holds one token call from start to end: the spend before it,
// the call, the give-back after a refusal, the fleet-wide pause after a
// failure, and the fenced write of the result. The caller holds the lease.

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
func (s *AuthService) obtain(ctx context.Context, st Token) (Token, error) {
	c := s.client
	return s.exchange(ctx, st, true, tokenExchange{kind: TokenObtain, limit: s.budget.ObtainsPerDay,
		send: func(ctx context.Context) (tokenData, error) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "ump: obtaining a fresh token: it retires the token every other holder has, so every process of this app must share this token store",
				slog.String("app_id", c.appID), slog.String("store", s.store.String()))
			return callToken[tokenData](ctx, c, &epObtain, c.appID)
		},
		next: func(d tokenData, now time.Time) (Token, error) {
			if d.AccessToken == "" || d.RefreshToken == "" || d.ExpireIn <= 0 {
				return Token{}, &ResponseError{Method: epObtain.method, HTTPStatus: 200, Err: errors.New("token answer lacks access_token, refresh_token or expire_in")}
			}
			return Token{
				AccessToken: string(d.AccessToken), RefreshToken: string(d.RefreshToken),
				AccessExpiresAt:  now.Add(time.Duration(d.ExpireIn) * time.Second),
				RefreshExpiresAt: now.Add(RefreshTokenLifetime), ObtainedAt: now,
			}, nil
		},
	})
}

// refresh spends a refresh (within limit) and calls 2.2 with st's refresh
// token; store says whether to write the result to the store. A refusal of
// the refresh token itself matches errRefreshTokenRejected.
func (s *AuthService) refresh(ctx context.Context, st Token, limit int, store, obtainMayFollow bool) (Token, error) {
	c := s.client
	return s.exchange(ctx, st, store, tokenExchange{kind: TokenRefresh, limit: limit, obtainMayFollow: obtainMayFollow,
		send: func(ctx context.Context) (tokenData, error) {
			c.log.LogAttrs(ctx, slog.LevelInfo, "ump: refreshing the access token", slog.String("app_id", c.appID))
			d, err := callToken[tokenData](ctx, c, &epRefresh, st.RefreshToken)
			if errors.Is(err, ErrTokenInvalid) {
				err = fmt.Errorf("%w: %w", errRefreshTokenRejected, err)
			}
			return d, err
		},
		next: func(d tokenData, now time.Time) (Token, error) {
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
			return next, nil
		},
	})
}

// tokenExchange is what differs between the two token calls, 2.1 and 2.2.
type tokenExchange struct {
	kind  TokenCall
	limit int // the day's allowance the spend counts against
	// obtainMayFollow: see spendAndCall.
	obtainMayFollow bool
	// send logs and makes the call; it runs only once the call is budgeted.
	send func(ctx context.Context) (tokenData, error)
	// next is the token the answer gives at now, or the error naming what
	// the answer lacks.
	next func(d tokenData, now time.Time) (Token, error)
}

// exchange makes one token call under the caller's lease, seen through even
// if ctx ends once budgeted (detach), and writes the resulting token over
// st when store is set.
func (s *AuthService) exchange(ctx context.Context, st Token, store bool, x tokenExchange) (Token, error) {
	ctx, cancel, err := s.detach(ctx)
	if err != nil {
		return Token{}, err
	}
	defer cancel()
	now := s.client.now()
	d, err := s.spendAndCall(ctx, x)
	if err != nil {
		return Token{}, err
	}
	next, err := x.next(d, now)
	if err != nil || !store {
		return next, err
	}
	return s.save(ctx, st.Version, next), nil
}

// spendAndCall makes the token call x under the caller's lease: it
// honours the fleet-wide pause, spends from the day's budget (within x.limit)
// before calling, gives the spend back when the call was refused and so
// issued nothing, and pauses the fleet after a failure. With x.obtainMayFollow
// a refused refresh token does not pause: the caller obtains at once or
// pauses itself (afterRefreshTokenRejected), and a pause set meanwhile
// would turn the processes waiting for the lease away from the token the
// obtain is about to store.
func (s *AuthService) spendAndCall(ctx context.Context, x tokenExchange) (d tokenData, err error) {
	kind, limit := x.kind, x.limit
	c := s.client
	now := c.now()
	spent, sent := -1, false // for the TokenCall hook
	defer func() { s.tokenCallDone(ctx, kind, now, spent, sent, time.Duration(d.ExpireIn)*time.Second, err) }()
	p, err := s.store.Pause(ctx, c.appID)
	if err != nil {
		return tokenData{}, fmt.Errorf("ump: %s refused: token store %s: %w", kind, s.store, err)
	}
	if p.Active(now) {
		return tokenData{}, fmt.Errorf("ump: %s refused: %w", kind, pausedError(p))
	}
	sp := TokenSpend{Kind: kind, Day: BeijingDay(now), Nonce: LeaseID(), At: now, By: s.holder}
	day, counted, err := s.store.Spend(ctx, c.appID, sp, limit)
	if err != nil {
		return tokenData{}, fmt.Errorf("ump: %s refused: token store %s: %w", kind, s.store, err)
	}
	spent = day.Count(kind)
	if !counted {
		return tokenData{}, fmt.Errorf("ump: %s refused: %w", kind, budgetExhausted(day, kind, limit))
	}
	sent = true
	d, err = x.send(ctx)
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
		} else {
			spent--
		}
	}
	attrs := []slog.Attr{slog.String("call", kind.String()), slog.Bool("budget_given_back", refused)}
	if !x.obtainMayFollow || !errors.Is(err, errRefreshTokenRejected) {
		attrs = append(attrs, slog.Time("paused_until", s.pauseFleet(ctx, p, now, err).Until))
	}
	attrs = append(attrs, slog.String("store", s.store.String()), slog.String("error", err.Error()))
	c.log.LogAttrs(ctx, slog.LevelWarn, "ump: token call failed", attrs...)
	return d, err
}

// pauseFleet stores the pause that follows prev after a token call failed
// at now with err, and returns it.
func (s *AuthService) pauseFleet(ctx context.Context, prev TokenPause, now time.Time, err error) TokenPause {
	next := s.nextPause(prev, now, err)
	if perr := s.store.SetPause(ctx, s.client.appID, next); perr != nil {
		s.client.log.LogAttrs(ctx, slog.LevelWarn, "ump: storing the token-call pause failed", slog.String("error", perr.Error()))
	}
	return next
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
// gateway timeout, after which the gateway may have answered), or it was
// never sent (DNS, dial, a context that ended first). A timeout, a reset, a
// lost or cut-off answer may have issued one, and keep their spend.
func issuedNothing(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return true
	}
	var respErr *ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatus >= 400 && respErr.HTTPStatus != http.StatusGatewayTimeout
	}
	var transportErr *TransportError
	if errors.As(err, &transportErr) {
		return isNotSent(transportErr.Err)
	}
	return !errors.Is(err, ErrOutcomeUnknown)
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
