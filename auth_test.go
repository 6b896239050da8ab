package ump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// t0 is a fixed instant for token tests: 2024-03-01 10:00 Beijing.
var t0 = time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)

// tokenAt returns a stored record whose access token expires left after now.
func tokenAt(now time.Time, left time.Duration) Token {
	return Token{
		AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: now.Add(left), RefreshExpiresAt: now.Add(300 * 24 * time.Hour),
	}
}

// spend records n calls of kind already made on the Beijing day of at.
func spend(t *testing.T, st TokenStore, kind TokenCall, at time.Time, n int) {
	t.Helper()
	for range n {
		_, ok, err := st.Spend(context.Background(), testAppID, TokenSpend{Kind: kind, Day: BeijingDay(at), Nonce: LeaseID(), At: at, By: "test/1"}, 100)
		require.NoError(t, err)
		require.True(t, ok)
	}
}

// readConcurrently makes n test reads at once and requires each to succeed
// (checked on the test's goroutine).
func readConcurrently(t *testing.T, c *Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// okRead answers the test read with success.
func okRead(m *mockGW) { m.reply(epRead.method, `{"success":true,"data":{"code":1}}`) }

func TestSingleFlightRefresh(t *testing.T) {
	// The store holds an expired token: every one of 1,000 concurrent calls
	// needs a renewal, and exactly one refresh may reach the platform.
	store := storeWith(t, tokenAt(time.Now(), -time.Minute))
	c, m := mockSetup(t, store)
	okRead(m)
	const n = 1000
	readConcurrently(t, c, n)
	require.Equal(t, 1, m.count(epRefresh.method), "exactly one refresh")
	require.Equal(t, 0, m.count(epObtain.method))
	require.Equal(t, n, m.count(epRead.method))
	for _, r := range m.requests(epRead.method) {
		require.Equal(t, "at-ref-001-0123456789ABCDEF0123456", r.Query.Get("access_token"))
	}
	ref := m.requests(epRefresh.method)[0]
	require.Equal(t, testRefreshToken, ref.Query.Get("refresh_token"))
	require.Empty(t, ref.Query.Get("access_token"))
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Refreshes)
	require.Equal(t, int64(2), st.Token.Version)
}

func TestColdStartObtainsOnce(t *testing.T) {
	c, m := mockSetup(t, NewMemoryTokenStore())
	okRead(m)
	readConcurrently(t, c, 200)
	require.Equal(t, 1, m.count(epObtain.method))
	require.Equal(t, 0, m.count(epRefresh.method))
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Obtains)
	require.True(t, st.Token.Refreshable(time.Now()))
}

func TestProactiveRefreshWindow(t *testing.T) {
	t.Run("20 minutes left: used as is", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		c, m := mockSetup(t, storeWith(t, tokenAt(t0, 20*time.Minute)), WithClock(clk.Now))
		okRead(m)
		for range 3 {
			_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
			require.NoError(t, err)
		}
		require.Equal(t, 0, m.count(epRefresh.method)+m.count(epObtain.method))
		require.Equal(t, testAccessToken, m.requests(epRead.method)[2].Query.Get("access_token"))
	})
	t.Run("10 minutes left: refreshed once", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		c, m := mockSetup(t, storeWith(t, tokenAt(t0, 10*time.Minute)), WithClock(clk.Now))
		okRead(m)
		for range 3 {
			_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
			require.NoError(t, err)
		}
		require.Equal(t, 1, m.count(epRefresh.method))
		require.Equal(t, 0, m.count(epObtain.method))
		for _, r := range m.requests(epRead.method) {
			require.Equal(t, "at-ref-001-0123456789ABCDEF0123456", r.Query.Get("access_token"))
		}
		st, err := c.Auth.Status(context.Background())
		require.NoError(t, err)
		require.Equal(t, t0.Add(2*time.Hour), st.Token.AccessExpiresAt)
		require.Equal(t, testRefreshToken, st.Token.RefreshToken, "2.2 does not replace the refresh token")
		require.Equal(t, t0, st.Token.RefreshedAt)
	})
	t.Run("a custom window", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		c, m := mockSetup(t, storeWith(t, tokenAt(t0, 10*time.Minute)), WithClock(clk.Now), WithTokenRefreshWindow(5*time.Minute))
		okRead(m)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 0, m.count(epRefresh.method))
	})
}

func TestShortTokenLifetimeIsNotRefreshedOnEveryCall(t *testing.T) {
	// A platform that issues tokens for 5 minutes, less than the 12-minute
	// window: renewing "12 minutes before expiry" would mean on every call.
	clk := newStepClock(t0, 0)
	c, m := mockSetup(t, storeWith(t, tokenAt(t0, -time.Minute)), WithClock(clk.Now))
	okRead(m)
	m.route(epRefresh.method, func(wireReq, int) (*http.Response, error) {
		return jsonResponse(200, m.tokenAnswer("ref", false, 300)), nil
	})
	for range 5 {
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.NoError(t, err)
	}
	require.Equal(t, 1, m.count(epRefresh.method))
	clk.Set(t0.Add(200 * time.Second)) // past half of its life
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
	require.NoError(t, err)
	require.Equal(t, 2, m.count(epRefresh.method))
}

// reject401 answers 401 to the rejected token and success to any other.
func reject401(rejected string, plain bool) mockResponder {
	return func(r wireReq, _ int) (*http.Response, error) {
		if r.Query.Get("access_token") != rejected {
			return jsonResponse(200, `{"success":true,"data":{"code":1}}`), nil
		}
		if plain {
			return jsonResponse(http.StatusUnauthorized, `Unauthorized`), nil
		}
		return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_code":401,"error_message":"access_token无效"}`), nil
	}
}

func TestTokenRejected(t *testing.T) {
	t.Run("HTTP 401 always: one refresh, one repeat, no loop", func(t *testing.T) {
		for _, plain := range []bool{false, true} {
			c, m := mockSetup(t, nil)
			m.route(epRead.method, func(wireReq, int) (*http.Response, error) {
				if plain {
					return jsonResponse(http.StatusUnauthorized, "<html>401</html>"), nil
				}
				return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_message":"token expired"}`), nil
			})
			_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
			require.True(t, errors.Is(err, ErrTokenInvalid), "%v", err)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, http.StatusUnauthorized, apiErr.HTTPStatus)
			require.Equal(t, 2, m.count(epRead.method))
			require.Equal(t, 1, m.count(epRefresh.method))
			require.Equal(t, 0, m.count(epObtain.method))
			reqs := m.requests(epRead.method)
			require.Equal(t, testAccessToken, reqs[0].Query.Get("access_token"))
			require.NotEqual(t, testAccessToken, reqs[1].Query.Get("access_token"), "the repeat carries the new token")
			require.Equal(t, reqs[0].Body, reqs[1].Body)
		}
	})
	t.Run("401 then success", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.route(epWrite.method, reject401(testAccessToken, true))
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"}, "")
		require.NoError(t, err, "a rejected token means the call was not applied, so even a write is repeated")
		require.Equal(t, 2, m.count(epWrite.method))
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("a code set with WithTokenInvalidCodes", func(t *testing.T) {
		c, m := mockSetup(t, nil, WithTokenInvalidCodes(40001, 40014))
		m.route(epRead.method, func(r wireReq, _ int) (*http.Response, error) {
			if r.Query.Get("access_token") == testAccessToken {
				return jsonResponse(200, `{"success":false,"error_code":40014,"error_message":"不合法的access_token"}`), nil
			}
			return jsonResponse(200, `{"success":true,"data":{"code":2}}`), nil
		})
		got, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.NoError(t, err)
		require.EqualValues(t, 2, got.Code)
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("a configured code always: one refresh, one repeat", func(t *testing.T) {
		c, m := mockSetup(t, nil, WithTokenInvalidCodes(40014))
		m.reply(epRead.method, `{"success":false,"error_code":40014,"error_message":"不合法的access_token"}`)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrTokenInvalid), "%v", err)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, int64(40014), apiErr.Code)
		require.Equal(t, 2, m.count(epRead.method))
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("an unconfigured code is just an error", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.reply(epRead.method, `{"success":false,"error_code":40014,"error_message":"不合法的access_token"}`)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.False(t, errors.Is(err, ErrTokenInvalid))
		require.Equal(t, 0, m.count(epRefresh.method))
		require.Equal(t, 1, m.count(epRead.method))
	})
	t.Run("a burst of rejections refreshes once", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		m.route(epRead.method, reject401(testAccessToken, false))
		readConcurrently(t, c, 100)
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("a token already replaced causes no second refresh", func(t *testing.T) {
		c, m := mockSetup(t, nil)
		okRead(m)
		ctx := context.Background()
		require.NoError(t, c.Auth.recover(ctx, testAccessToken)) // the first rejection: refreshes
		require.Equal(t, 1, m.count(epRefresh.method))
		cur, err := c.Auth.AccessToken(ctx)
		require.NoError(t, err)
		require.NotEqual(t, testAccessToken, cur)
		// A goroutine that sent the old token learns of the rejection late.
		require.NoError(t, c.Auth.recover(ctx, testAccessToken))
		require.Equal(t, 1, m.count(epRefresh.method))
		again, err := c.Auth.AccessToken(ctx)
		require.NoError(t, err)
		require.Equal(t, cur, again)
	})
	t.Run("a refused refresh token leads to one obtain, never a loop", func(t *testing.T) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		c, m := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)), WithLogger(logger))
		m.route(epRefresh.method, func(wireReq, int) (*http.Response, error) {
			return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_message":"refresh_token无效"}`), nil
		})
		okRead(m)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 1, m.count(epRefresh.method))
		require.Equal(t, 1, m.count(epObtain.method), "the refused refresh token is replaced by today's obtain")
		require.Contains(t, logs.String(), "level=WARN msg=\"ump: the gateway refused the refresh token; obtaining a fresh token once")
		require.NotContains(t, logs.String(), testRefreshToken)

		// The new token's refresh token is refused too: today's obtain is
		// spent, so nothing more is called.
		m.route(epRead.method, reject401(m.requests(epRead.method)[0].Query.Get("access_token"), false))
		_, err = c.Auth.Refresh(context.Background(), "rt-unknown")
		require.ErrorIs(t, err, ErrTokenInvalid)
		st, err := c.Auth.Status(context.Background())
		require.NoError(t, err)
		require.Equal(t, 1, st.Obtains)
		require.Equal(t, 0, st.Refreshes, "refused refreshes are given back")
		require.Equal(t, 1, m.count(epObtain.method))
	})
	t.Run("with NoAutoObtain a refused refresh token obtains nothing", func(t *testing.T) {
		c, m := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)),
			WithTokenBudget(TokenBudget{ObtainsPerDay: 1, RefreshesPerDay: 20, NoAutoObtain: true}))
		m.route(epRefresh.method, func(wireReq, int) (*http.Response, error) {
			return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_message":"refresh_token无效"}`), nil
		})
		okRead(m)
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.ErrorIs(t, err, ErrNoToken)
		require.ErrorIs(t, err, ErrTokenInvalid)
		require.Equal(t, 1, m.count(epRefresh.method))
		require.Equal(t, 0, m.count(epObtain.method))
		require.Equal(t, 0, m.count(epRead.method))
	})
}

func TestTokenBudget(t *testing.T) {
	ctx := context.Background()
	t.Run("refreshes spent: refused, no call", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		store := storeWith(t, tokenAt(t0, -time.Minute))
		spend(t, store, TokenRefresh, t0, 20)
		c, m := mockSetup(t, store, WithClock(clk.Now))
		okRead(m)
		_, err := c.Auth.AccessToken(ctx)
		require.True(t, errors.Is(err, ErrTokenBudgetExhausted), "%v", err)
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrTokenBudgetExhausted), "%v", err)
		require.Equal(t, 0, m.total(), "no token call and no business call")
	})
	t.Run("proactive refreshes keep the headroom; the token keeps working", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		store := storeWith(t, tokenAt(t0, 10*time.Minute))
		spend(t, store, TokenRefresh, t0, 16) // 20 - DefaultTokenBudget.RefreshHeadroom
		c, m := mockSetup(t, store, WithClock(clk.Now))
		okRead(m)
		for range 3 {
			_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
			require.NoError(t, err)
		}
		require.Equal(t, 0, m.count(epRefresh.method))
		require.Equal(t, testAccessToken, m.requests(epRead.method)[2].Query.Get("access_token"))
		// Once it expires, the headroom is what renews it.
		clk.Set(t0.Add(11 * time.Minute))
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 1, m.count(epRefresh.method))
		st, err := c.Auth.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, 17, st.Refreshes)
	})
	t.Run("below the headroom line a proactive refresh happens", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		store := storeWith(t, tokenAt(t0, 10*time.Minute))
		spend(t, store, TokenRefresh, t0, 15)
		c, m := mockSetup(t, store, WithClock(clk.Now))
		okRead(m)
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("a rejected token may use the headroom", func(t *testing.T) {
		store := storeWith(t, tokenAt(time.Now(), time.Hour))
		spend(t, store, TokenRefresh, time.Now(), 19)
		c, m := mockSetup(t, store)
		m.route(epRead.method, reject401(testAccessToken, false))
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 1, m.count(epRefresh.method))
	})
	t.Run("obtain twice the same Beijing day", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		c, m := mockSetup(t, NewMemoryTokenStore(), WithClock(clk.Now))
		tok, err := c.Auth.Obtain(ctx)
		require.NoError(t, err)
		require.Equal(t, "at-obt-001-0123456789ABCDEF0123456", tok.AccessToken)
		_, err = c.Auth.Obtain(ctx)
		require.True(t, errors.Is(err, ErrTokenBudgetExhausted), "%v", err)
		require.Equal(t, 1, m.count(epObtain.method))
	})
	t.Run("the budget day is the Beijing day", func(t *testing.T) {
		require.Equal(t, "2024-01-02", BeijingDay(time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC)))
		require.Equal(t, "2024-01-01", BeijingDay(time.Date(2024, 1, 1, 15, 59, 59, 0, time.UTC)))
		require.Equal(t, "2024-01-02", BeijingDay(time.Date(2024, 1, 1, 16, 0, 0, 0, time.UTC)))

		clk := newStepClock(time.Date(2024, 1, 1, 15, 30, 0, 0, time.UTC), 0) // 23:30 on Jan 1 in Beijing
		c, m := mockSetup(t, NewMemoryTokenStore(), WithClock(clk.Now))
		_, err := c.Auth.Obtain(ctx)
		require.NoError(t, err)
		clk.Set(time.Date(2024, 1, 1, 16, 30, 0, 0, time.UTC)) // 00:30 on Jan 2 in Beijing, same UTC day
		_, err = c.Auth.Obtain(ctx)
		require.NoError(t, err, "a new Beijing day")
		clk.Set(time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC)) // 07:30 on Jan 2 in Beijing
		_, err = c.Auth.Obtain(ctx)
		require.True(t, errors.Is(err, ErrTokenBudgetExhausted), "%v", err)
		require.Equal(t, 2, m.count(epObtain.method))
		st, err := c.Auth.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, "2024-01-02", st.Day)
		require.Equal(t, 1, st.Obtains)
	})
	t.Run("automatic obtain refused after a manual one", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		store := NewMemoryTokenStore()
		spend(t, store, TokenObtain, t0, 1)
		c, m := mockSetup(t, store, WithClock(clk.Now))
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrTokenBudgetExhausted), "%v", err)
		require.Equal(t, 0, m.total())
	})
	t.Run("NoAutoObtain", func(t *testing.T) {
		c, m := mockSetup(t, NewMemoryTokenStore(), WithTokenBudget(TokenBudget{ObtainsPerDay: 1, RefreshesPerDay: 20, NoAutoObtain: true}))
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrNoToken), "%v", err)
		require.Equal(t, 0, m.total())
	})
}

func TestRenewalFailurePausesRenewal(t *testing.T) {
	// The refresh call fails: the next calls must not each spend another of
	// the day's refreshes on the failing gateway.
	clk := newStepClock(t0, 0)
	c, m := mockSetup(t, storeWith(t, tokenAt(t0, -time.Minute)), WithClock(clk.Now))
	okRead(m)
	m.sequence(epRefresh.method,
		answer200(`{"success":false,"error_code":500,"error_message":"系统繁忙"}`),
		func(wireReq, int) (*http.Response, error) {
			return jsonResponse(200, m.tokenAnswer("ref", false, 7200)), nil
		})
	for range 5 {
		_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
		require.True(t, errors.Is(err, ErrSystemBusy), "%v", err)
	}
	require.Equal(t, 1, m.count(epRefresh.method))
	require.Equal(t, 0, m.count(epRead.method))
	// The fleet-wide pause: a minute after the first failure.
	clk.Set(t0.Add(tokenPause - time.Second))
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
	require.ErrorIs(t, err, ErrTokenCallsPaused)
	require.Equal(t, 1, m.count(epRefresh.method))
	clk.Set(t0.Add(tokenPause + time.Second))
	_, _, err = call[echoOut](context.Background(), c, &epRead, nil, "")
	require.NoError(t, err)
	require.Equal(t, 2, m.count(epRefresh.method))
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Refreshes, "the refused refresh was given back")
	require.Zero(t, st.Pause, "a success clears the pause")
}

// flakyStore wraps a store that can break, lose writes or lose its record.
type flakyStore struct {
	mu       sync.Mutex
	inner    TokenStore
	broken   atomic.Bool // every method fails
	casFails atomic.Bool // writes fail
}

var errStoreDown = errors.New("dial tcp 10.0.0.7:6379: i/o timeout")

func (f *flakyStore) store() TokenStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inner
}

// wipe replaces the record and the counters with nothing, as a flushed Redis.
func (f *flakyStore) wipe() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inner = NewMemoryTokenStore()
}

func (f *flakyStore) Load(ctx context.Context, appID string) (Token, error) {
	if f.broken.Load() {
		return Token{}, errStoreDown
	}
	return f.store().Load(ctx, appID)
}

func (f *flakyStore) CompareAndSwap(ctx context.Context, appID string, old int64, t Token) (Token, error) {
	if f.broken.Load() || f.casFails.Load() {
		return Token{}, errStoreDown
	}
	return f.store().CompareAndSwap(ctx, appID, old, t)
}

func (f *flakyStore) Spend(ctx context.Context, appID string, sp TokenSpend, limit int) (TokenDay, bool, error) {
	if f.broken.Load() {
		return TokenDay{}, false, errStoreDown
	}
	return f.store().Spend(ctx, appID, sp, limit)
}

func (f *flakyStore) GiveBack(ctx context.Context, appID string, sp TokenSpend) error {
	if f.broken.Load() {
		return errStoreDown
	}
	return f.store().GiveBack(ctx, appID, sp)
}

func (f *flakyStore) Spent(ctx context.Context, appID string, day string) (TokenDay, error) {
	if f.broken.Load() {
		return TokenDay{}, errStoreDown
	}
	return f.store().Spent(ctx, appID, day)
}

func (f *flakyStore) ResetSpent(ctx context.Context, appID string, day string) (TokenDay, error) {
	if f.broken.Load() {
		return TokenDay{}, errStoreDown
	}
	return f.store().ResetSpent(ctx, appID, day)
}

func (f *flakyStore) Forget(ctx context.Context, appID string) (Token, error) {
	if f.broken.Load() {
		return Token{}, errStoreDown
	}
	return f.store().Forget(ctx, appID)
}

func (f *flakyStore) Pause(ctx context.Context, appID string) (TokenPause, error) {
	if f.broken.Load() {
		return TokenPause{}, errStoreDown
	}
	return f.store().Pause(ctx, appID)
}

func (f *flakyStore) SetPause(ctx context.Context, appID string, p TokenPause) error {
	if f.broken.Load() {
		return errStoreDown
	}
	return f.store().SetPause(ctx, appID, p)
}

func (f *flakyStore) String() string { return "flaky " + f.store().String() }

func (f *flakyStore) Lease(ctx context.Context, appID string, ttl time.Duration) (func(context.Context) error, error) {
	if f.broken.Load() {
		return nil, errStoreDown
	}
	return f.store().Lease(ctx, appID, ttl)
}

func TestStoreUnreachable(t *testing.T) {
	ctx := context.Background()
	t.Run("the in-memory token is served while valid, and nothing is obtained", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		fs := &flakyStore{inner: storeWith(t, tokenAt(t0, 30*time.Minute))}
		c, m := mockSetup(t, fs, WithClock(clk.Now))
		okRead(m)
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)

		fs.broken.Store(true)
		clk.Set(t0.Add(20 * time.Minute)) // 10 minutes left: due for a refresh
		for range 3 {
			_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
			require.NoError(t, err)
		}
		clk.Set(t0.Add(29 * time.Minute))
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 5, m.count(epRead.method))
		for _, r := range m.requests(epRead.method) {
			require.Equal(t, testAccessToken, r.Query.Get("access_token"))
		}

		clk.Set(t0.Add(31 * time.Minute)) // expired
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.Error(t, err)
		require.ErrorIs(t, err, errStoreDown)
		require.Equal(t, 0, m.count(epObtain.method))
		require.Equal(t, 0, m.count(epRefresh.method))
		require.Equal(t, 5, m.count(epRead.method))
	})
	t.Run("cold start with the store down obtains nothing", func(t *testing.T) {
		fs := &flakyStore{inner: NewMemoryTokenStore()}
		fs.broken.Store(true)
		c, m := mockSetup(t, fs)
		for range 3 {
			_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
			require.ErrorIs(t, err, errStoreDown)
		}
		require.Equal(t, 0, m.total())
	})
	t.Run("a failed write keeps the new token in memory", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		fs := &flakyStore{inner: storeWith(t, tokenAt(t0, -time.Minute))}
		fs.casFails.Store(true)
		c, m := mockSetup(t, fs, WithClock(clk.Now))
		okRead(m)
		for range 3 {
			_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
			require.NoError(t, err)
		}
		require.Equal(t, 1, m.count(epRefresh.method))
		// The store comes back with its stale, expired record; the new token
		// is due for renewal and the gateway is busy: memory's token, still
		// valid, is what keeps working, not the older stored one.
		fs.casFails.Store(false)
		m.reply(epRefresh.method, `{"success":false,"error_code":500,"error_message":"系统繁忙"}`)
		clk.Set(t0.Add(2*time.Hour - 10*time.Minute))
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 2, m.count(epRefresh.method))
		require.Equal(t, "at-ref-001-0123456789ABCDEF0123456", m.requests(epRead.method)[3].Query.Get("access_token"))
	})
	t.Run("a wiped store does not cost an obtain while memory has a refresh token", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		fs := &flakyStore{inner: storeWith(t, tokenAt(t0, 30*time.Minute))}
		c, m := mockSetup(t, fs, WithClock(clk.Now))
		okRead(m)
		_, _, err := call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		fs.wipe()
		clk.Set(t0.Add(25 * time.Minute))
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 0, m.count(epObtain.method))
		require.Equal(t, 1, m.count(epRefresh.method))
		require.Equal(t, testRefreshToken, m.requests(epRefresh.method)[0].Query.Get("refresh_token"))
		st, err := c.Auth.Status(ctx)
		require.NoError(t, err)
		require.Equal(t, testRefreshToken, st.Token.RefreshToken, "the record is written back")
		require.Equal(t, "at-ref-001-0123456789ABCDEF0123456", st.Token.AccessToken)
	})
}

func TestLeaseHeldByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	t.Run("token still works: keep using it", func(t *testing.T) {
		clk := newStepClock(t0, 0)
		store := storeWith(t, tokenAt(t0, 10*time.Minute))
		release, err := store.Lease(ctx, testAppID, time.Minute)
		require.NoError(t, err)
		defer func() { _ = release(ctx) }()
		c, m := mockSetup(t, store, WithClock(clk.Now))
		okRead(m)
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 0, m.count(epRefresh.method))
	})
	t.Run("token expired: wait for the other process's record", func(t *testing.T) {
		store := storeWith(t, tokenAt(time.Now(), -time.Minute))
		release, err := store.Lease(ctx, testAppID, time.Minute)
		require.NoError(t, err)
		c, m := mockSetup(t, store)
		okRead(m)
		go func() {
			// The other process finishes its refresh.
			tok := tokenAt(time.Now(), 2*time.Hour)
			tok.AccessToken = "at-from-the-other-process-0123456789"
			_, err := store.CompareAndSwap(ctx, testAppID, 1, tok)
			if err == nil {
				err = release(ctx)
			}
			if err != nil {
				t.Error(err)
			}
		}()
		_, _, err = call[echoOut](ctx, c, &epRead, nil, "")
		require.NoError(t, err)
		require.Equal(t, 0, m.count(epRefresh.method))
		require.Equal(t, "at-from-the-other-process-0123456789", m.requests(epRead.method)[0].Query.Get("access_token"))
	})
}

func TestPublicObtainAndRefresh(t *testing.T) {
	ctx := context.Background()
	c, m := mockSetup(t, NewMemoryTokenStore())
	tok, err := c.Auth.Obtain(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), tok.Version)

	// Refreshing the stored refresh token updates the record.
	next, err := c.Auth.Refresh(ctx, tok.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, int64(2), next.Version)
	cur, err := c.Auth.AccessToken(ctx)
	require.NoError(t, err)
	require.Equal(t, next.AccessToken, cur)

	// A foreign refresh token is refreshed but not stored.
	other, err := c.Auth.Refresh(ctx, "rt-some-other-app-0123456789ABCDEF")
	require.NoError(t, err)
	require.Equal(t, int64(0), other.Version)
	cur, err = c.Auth.AccessToken(ctx)
	require.NoError(t, err)
	require.Equal(t, next.AccessToken, cur)

	_, err = c.Auth.Refresh(ctx, "")
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.True(t, verr.Has("refresh_token"))
	require.Equal(t, 1, m.count(epObtain.method))
	require.Equal(t, 2, m.count(epRefresh.method))
}

func TestTokenAnswerMissingFields(t *testing.T) {
	c, m := mockSetup(t, NewMemoryTokenStore())
	m.reply(epObtain.method, `{"success":true,"data":{"access_token":"at-x","expire_in":7200}}`)
	_, err := c.Auth.Obtain(context.Background())
	var rerr *ResponseError
	require.ErrorAs(t, err, &rerr)
	require.Equal(t, epObtain.method, rerr.Method)
}

func TestTokenNeverPrinted(t *testing.T) {
	tok := Token{
		AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: t0.Add(2 * time.Hour), RefreshExpiresAt: t0.Add(365 * 24 * time.Hour), Version: 3,
	}
	var logs bytes.Buffer
	text := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	jsonl := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	text.Info("token", "tok", tok, "ptr", &tok)
	jsonl.Info("token", "tok", tok, "status", TokenStatus{Token: tok})
	outs := []string{
		tok.String(), tok.GoString(), tok.LogValue().String(), logs.String(),
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q", tok, tok, tok, tok, tok),
		fmt.Sprintf("%v %+v %#v", &tok, &tok, &tok),
		fmt.Sprintf("%v %+v", TokenStatus{Token: tok}, TokenStatus{Token: tok}),
		fmt.Sprintf("%v", []Token{tok}), fmt.Sprintf("%v", map[string]Token{"a": tok}),
	}
	for _, s := range outs {
		require.NotContains(t, s, testAccessToken)
		require.NotContains(t, s, testRefreshToken)
		require.NotContains(t, s, testAccessToken[:10])
	}
	require.Contains(t, tok.String(), "version:3")
	require.Equal(t, "ump.Token{none}", Token{}.String())
	require.True(t, strings.Contains(logs.String(), "version=3"), logs.String())
}

func TestLeaseOutlivesATokenCall(t *testing.T) {
	c, err := NewClient(testAppID, testAppSecret, WithTimeout(10*time.Second),
		WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Second, MaxBackoff: 4 * time.Second}))
	require.NoError(t, err)
	// Three attempts of 10 s and two waits of at most 4 s.
	require.Greater(t, c.Auth.leaseTTL, 3*10*time.Second+2*4*time.Second)
}

func TestTokenCallOutlivesTheCallerThatStartedIt(t *testing.T) {
	// The caller that triggered a refresh gives up while the refresh is in
	// flight: the refresh (already counted against the budget) completes and
	// is stored, so the next caller does not spend another.
	c, g := setup(t, WithTokenStore(storeWith(t, tokenAt(time.Now(), -time.Minute))))
	g.reply(epRead.method, `{"success":true,"data":{}}`)
	g.reply(epWrite.method, `{"success":true,"data":{}}`)
	ctx, cancel := context.WithCancel(context.Background())
	g.handle(epRefresh.method, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		select {
		case <-r.Context().Done(): // the client hung up: the refresh is lost
			return
		case <-time.After(20 * time.Millisecond):
		}
		_, _ = io.WriteString(w, `{"success":true,"data":{"access_token":"at-refreshed-0123456789ABCDEF01234","expire_in":7200}}`)
	})
	_, _, err := call[echoOut](ctx, c, &epWrite, map[string]string{"order_no": "A1"}, "")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, errors.Is(err, ErrOutcomeUnknown), "the write was never sent: %v", err)

	_, _, err = call[echoOut](context.Background(), c, &epRead, nil, "")
	require.NoError(t, err)
	var refreshes, writes int
	for _, r := range g.calls() {
		switch r.Method {
		case epRefresh.method:
			refreshes++
		case epWrite.method:
			writes++
		case epRead.method:
			require.Equal(t, "at-refreshed-0123456789ABCDEF01234", r.Query.Get("access_token"))
		}
	}
	require.Equal(t, 1, refreshes)
	require.Equal(t, 0, writes)
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, "at-refreshed-0123456789ABCDEF01234", st.Token.AccessToken, "stored for other processes too")
}

func TestStatusNamesTheStore(t *testing.T) {
	fs := &flakyStore{inner: NewMemoryTokenStore()}
	c, _ := mockSetup(t, fs)
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, "flaky memory (this process only)", st.Store)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	require.Contains(t, string(b), `"Store":"flaky memory (this process only)"`)
	fs.broken.Store(true)
	_, err = c.Auth.Status(context.Background())
	require.ErrorContains(t, err, "token store flaky memory (this process only): ")
}

// TestIssuedNothing: which failed token calls give their spend back.
func TestIssuedNothing(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"an error envelope", &APIError{Method: epRefresh.method, HTTPStatus: 200, Code: 1002}, true},
		{"an error envelope with a 5xx status", &OutcomeUnknownError{Method: epRefresh.method, Err: &APIError{HTTPStatus: 502}}, true},
		{"a proxy's 502 page", &OutcomeUnknownError{Method: epRefresh.method, Err: &ResponseError{HTTPStatus: 502}}, true},
		{"a proxy's 403 page", &ResponseError{HTTPStatus: 403}, true},
		{"a gateway timeout page", &OutcomeUnknownError{Method: epRefresh.method, Err: &ResponseError{HTTPStatus: 504}}, false},
		{"a cut-off success", &OutcomeUnknownError{Method: epRefresh.method, Err: &ResponseError{HTTPStatus: 200}}, false},
		{"a reset after sending", &OutcomeUnknownError{Method: epRefresh.method, Err: &TransportError{Err: &resetError{}}}, false},
		{"a bare transport error after sending", &TransportError{Err: &resetError{}}, false},
		{"a dial failure", &TransportError{Err: dial}, true},
		{"a context that ended before sending", fmt.Errorf("ump: %s: %w", epRefresh.method, context.Canceled), true},
	} {
		require.Equal(t, c.want, issuedNothing(c.err), c.name)
	}
}
