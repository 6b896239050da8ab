package engine

import (
	"net/http"
	"net/url"
	"time"

	"github.com/greedc/ump-go"
)

// tokenState holds the issued tokens and the day's token-call counts.
//
// Tokens come in lineages: an obtain (2.1) starts one with a refresh token
// and an access token; each refresh (2.2) adds an access token to it and
// retires the lineage's earlier access tokens (after RefreshGrace). An obtain
// retires every earlier lineage, refresh token included: the platform keeps
// one refresh token per app. IssueToken starts a lineage without retiring
// any, as a test's back door.
type tokenState struct {
	access  map[string]*accessToken
	refresh map[string]*refreshToken
	// obtains and refreshes count successful token calls per Beijing day.
	obtains, refreshes map[string]int
}

type accessToken struct {
	lineage string // the refresh token it was issued with
	expires time.Time
}

type refreshToken struct {
	expires time.Time
}

func (t *tokenState) init() {
	t.access = map[string]*accessToken{}
	t.refresh = map[string]*refreshToken{}
	t.obtains = map[string]int{}
	t.refreshes = map[string]int{}
}

// authenticate checks the call's credential and returns the secret its sign
// must verify with; a failure comes with the HTTP status to answer with.
func (p *Platform) authenticate(c credential, q url.Values, now time.Time) (string, int, *Fail) {
	switch c {
	case credAppID:
		if q.Get("app_id") != p.cfg.AppID {
			return "", http.StatusOK, fail(CodeAppNotFound)
		}
	case credRefreshToken:
		rt, ok := p.tokens.refresh[q.Get("refresh_token")]
		if !ok || !now.Before(rt.expires) {
			return "", http.StatusOK, fail(CodeInvalidRefreshToken)
		}
	default:
		at, ok := p.tokens.access[q.Get("access_token")]
		if !ok || !now.Before(at.expires) {
			return "", http.StatusUnauthorized, fail(CodeInvalidAccessToken)
		}
	}
	return p.cfg.AppSecret, 0, nil
}

// obtain is 2.1.
func (p *Platform) obtain(r *request) (any, *paging, *Fail) {
	day := beijingDay(r.now)
	if lim := p.cfg.ObtainsPerDay; lim >= 0 && p.tokens.obtains[day] >= lim {
		return nil, nil, failMsg(CodeTokenLimit, "dss.auth.token.query")
	}
	p.tokens.obtains[day]++
	// One refresh token per app: every earlier lineage ends.
	for rt := range p.tokens.refresh {
		delete(p.tokens.refresh, rt)
	}
	for _, at := range p.tokens.access {
		p.retire(at, r.now)
	}
	at, rt := p.newLineage(r.now)
	return tokenData{AccessToken: at, RefreshToken: rt, ExpireIn: p.expireIn()}, nil, nil
}

// refresh is 2.2; authenticate has checked the refresh token.
func (p *Platform) refresh(r *request) (any, *paging, *Fail) {
	day := beijingDay(r.now)
	if lim := p.cfg.RefreshesPerDay; lim >= 0 && p.tokens.refreshes[day] >= lim {
		return nil, nil, failMsg(CodeTokenLimit, "dss.auth.token.refresh")
	}
	p.tokens.refreshes[day]++
	rt := r.query.Get("refresh_token")
	for _, at := range p.tokens.access {
		if at.lineage == rt {
			p.retire(at, r.now)
		}
	}
	at := p.newAccessToken(rt, r.now)
	return tokenData{AccessToken: at, ExpireIn: p.expireIn()}, nil, nil
}

// retire ends an access token that a newer one replaces, after the grace.
func (p *Platform) retire(at *accessToken, now time.Time) {
	if p.cfg.RefreshGrace < 0 {
		return
	}
	if end := now.Add(p.cfg.RefreshGrace); end.Before(at.expires) {
		at.expires = end
	}
}

func (p *Platform) expireIn() int64 { return int64(p.cfg.AccessTokenTTL / time.Second) }

// newLineage issues a refresh token and its first access token.
func (p *Platform) newLineage(now time.Time) (access, refresh string) {
	refresh = "rt" + p.hex(32, true)
	p.tokens.refresh[refresh] = &refreshToken{expires: now.Add(p.cfg.RefreshTokenTTL)}
	return p.newAccessToken(refresh, now), refresh
}

// newAccessToken issues an access token of 34 characters, like the
// document's examples: "at" and 32 upper-case hex digits.
func (p *Platform) newAccessToken(lineage string, now time.Time) string {
	at := "at" + p.hex(32, true)
	p.tokens.access[at] = &accessToken{lineage: lineage, expires: now.Add(p.cfg.AccessTokenTTL)}
	// Forget tokens long dead, so a long-running sandbox does not grow.
	for k, old := range p.tokens.access {
		if now.Sub(old.expires) > 24*time.Hour {
			delete(p.tokens.access, k)
		}
	}
	return at
}

// tokenData is the data of 2.1 and 2.2, in the document's field order.
type tokenData struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpireIn     int64  `json:"expire_in"`
}

// IssueToken issues a token pair outside the daily limits and without
// retiring any other token: a test's way to hold a valid token without
// spending the day's one obtain. It is a ump.Token, ready for a TokenStore,
// with Version 0.
func (p *Platform) IssueToken() ump.Token {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	at, rt := p.newLineage(now)
	return ump.Token{AccessToken: at, RefreshToken: rt, AccessExpiresAt: p.tokens.access[at].expires,
		RefreshExpiresAt: p.tokens.refresh[rt].expires, ObtainedAt: now}
}

// ExpireAccessTokens makes every issued access token stop working now.
func (p *Platform) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.tokens.access)
}

// ExpireRefreshTokens makes every issued refresh token stop working now.
func (p *Platform) ExpireRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.tokens.refresh)
}
