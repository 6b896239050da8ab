// Package tokengw is a small test gateway that counts token calls: it issues
// numbered tokens on obtain (2.1) and refresh (2.2), answers any other method
// with success if the access token is live and HTTP 401 otherwise, and
// checks every request's sign. The token-store tests use it to prove how
// often a fleet of clients obtained or refreshed.
package tokengw

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	ump "github.com/greedc/ump-go"
)

// Test credentials.
const (
	AppID     = "wkb1ag2hdad7e6jw1r"
	AppSecret = "S3cr3t-App-Secret-For-Tests-0123456789"
)

// Gateway is a running test gateway.
type Gateway struct {
	// URL is the base URL to pass to ump.WithBaseURL.
	URL string

	mu        sync.Mutex
	seq       int
	expireIn  int64
	obtains   int
	refreshes int
	calls     int
	rejected  int
	live      map[string]bool // access tokens that work
	refresh   map[string]bool // refresh tokens that work
	current   string          // the last access token issued
	errs      []string
}

// New starts a gateway, closed when t ends. Tokens last 7200 s (as the
// document says) unless SetExpireIn changes it.
func New(t testing.TB) *Gateway {
	g := &Gateway{expireIn: 7200, live: map[string]bool{}, refresh: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	g.URL = srv.URL
	t.Cleanup(func() {
		srv.Close()
		if errs := g.Errors(); len(errs) > 0 {
			t.Errorf("gateway saw bad requests: %s", strings.Join(errs, "; "))
		}
	})
	return g
}

// SetExpireIn sets the expire_in of the tokens issued from now on.
func (g *Gateway) SetExpireIn(seconds int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireIn = seconds
}

// Counts returns the obtains, refreshes and business calls served so far.
func (g *Gateway) Counts() (obtains, refreshes, calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.obtains, g.refreshes, g.calls
}

// Rejected returns how many business calls were answered 401.
func (g *Gateway) Rejected() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rejected
}

// Current returns the last access token issued ("" if none).
func (g *Gateway) Current() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.current
}

// Reject makes the gateway answer 401 for access token tok from now on, as
// the platform does for a token it revoked.
func (g *Gateway) Reject(tok string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.live, tok)
}

// Errors returns the problems found in requests (bad sign, unknown
// credentials), so a test can fail on them.
func (g *Gateway) Errors() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.errs...)
}

func (g *Gateway) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	g.mu.Lock()
	g.errs = append(g.errs, msg)
	g.mu.Unlock()
	answer(w, status, map[string]any{"success": false, "error_code": 400, "error_message": msg})
}

func answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	const prefix, suffix = "/gw/gateway/", "/v1"
	if !strings.HasPrefix(r.URL.Path, prefix) || !strings.HasSuffix(r.URL.Path, suffix) || r.Method != http.MethodPost {
		g.fail(w, http.StatusNotFound, "unexpected %s %s", r.Method, r.URL.Path)
		return
	}
	method := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, prefix), suffix)
	q := r.URL.Query()
	if q.Get("sign") != ump.Sign(q, body, AppSecret) {
		g.fail(w, http.StatusOK, "%s: sign does not verify", method)
		return
	}

	status, v := g.route(method, q.Get("app_id"), q.Get("refresh_token"), q.Get("access_token"))
	answer(w, status, v)
}

// route answers one verified request.
func (g *Gateway) route(method, appID, refreshToken, accessToken string) (int, any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch method {
	case "dss.auth.token.query":
		if appID != AppID {
			return g.bad("obtain for an unknown app id")
		}
		g.obtains++
		at, rt := g.issue()
		g.refresh[rt] = true
		return http.StatusOK, map[string]any{"success": true, "data": map[string]any{
			"access_token": at, "refresh_token": rt, "expire_in": g.expireIn}}
	case "dss.auth.token.refresh":
		if !g.refresh[refreshToken] {
			return g.bad("refresh with an unknown refresh token")
		}
		g.refreshes++
		at, _ := g.issue()
		return http.StatusOK, map[string]any{"success": true, "data": map[string]any{
			"access_token": at, "expire_in": g.expireIn}}
	}
	if !g.live[accessToken] {
		g.rejected++
		return http.StatusUnauthorized, map[string]any{"success": false, "error_code": 401, "error_message": "invalid access_token"}
	}
	g.calls++
	return http.StatusOK, map[string]any{"success": true, "error_code": 200, "data": map[string]any{}}
}

// bad records a request the platform would refuse; the caller holds mu.
func (g *Gateway) bad(msg string) (int, any) {
	g.errs = append(g.errs, msg)
	return http.StatusOK, map[string]any{"success": false, "error_code": 400, "error_message": msg}
}

// issue makes the next access and refresh token; the caller holds mu.
func (g *Gateway) issue() (access, refresh string) {
	g.seq++
	access = fmt.Sprintf("at-%04d", g.seq)
	refresh = fmt.Sprintf("rt-%04d", g.seq)
	g.live[access] = true
	g.current = access
	return access, refresh
}
