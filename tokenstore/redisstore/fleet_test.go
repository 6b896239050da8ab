package redisstore_test

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/logtest"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/internal/fleettest"
	"github.com/greedc/ump-go/tokenstore/redisstore"
	"github.com/greedc/ump-go/umptest"
)

// Methods of the token calls, as the gateway counts them.
const (
	obtainMethod  = "dss.auth.token.query"
	refreshMethod = "dss.auth.token.refresh"
)

// beijingMorning is 09:00 in Beijing on a fixed day, so that the tests'
// clock moves stay within one Beijing day.
var beijingMorning = time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)

// fleetGateway is a gateway on clk that, unlike fleettest.Gateway, may
// refuse requests: these tests make it.
func fleetGateway(t *testing.T, clk *umptest.Clock) *umptest.Server {
	g := umptest.NewServer(umptest.WithClock(clk))
	g.AddMember(umptest.Member{Phone: fleettest.Phone})
	t.Cleanup(g.Close)
	return g
}

// TestWrongSecretThenRight: a deploy with a mistyped secret is refused; the
// corrected deploy on the same Redis store works the same day, once the
// fleet's pause after the refusal (a minute) has passed, and the gateway
// issued exactly one token.
func TestWrongSecretThenRight(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(beijingMorning)
	g := fleetGateway(t, clk)
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	const typo = "umptest-secret-0123456789abcdeF"
	wrong, err := ump.NewClient(g.AppID, typo, ump.WithBaseURL(g.URL), ump.WithClock(clk.Now),
		ump.WithTokenStore(redisstore.New(srv.Client(t))), ump.WithLogger(logger))
	require.NoError(t, err)
	_, refused := wrong.Member.Get(ctx(t), &ump.MemberQuery{Phone: fleettest.Phone})
	require.Error(t, refused)
	require.NotErrorIs(t, refused, ump.ErrTokenBudgetExhausted)
	require.Equal(t, 1, g.Stats().Calls[obtainMethod])
	require.Zero(t, g.Stats().TokenObtains)
	st, err := wrong.Auth.Status(ctx(t))
	require.NoError(t, err)
	require.Zero(t, st.Obtains, "the refused obtain was given back")
	require.Equal(t, 1, st.Pause.Failures)
	require.Contains(t, logs.String(), `level=WARN msg="ump: token call failed" call=obtain budget_given_back=true paused_until=`)
	logtest.RequireNoneShown(t, []string{logs.String(), refused.Error()}, []string{typo, g.AppSecret})

	right := g.Client(ump.WithTokenStore(redisstore.New(srv.Client(t))))
	_, err = right.Member.Get(ctx(t), &ump.MemberQuery{Phone: fleettest.Phone})
	require.ErrorIs(t, err, ump.ErrTokenCallsPaused, "the fleet waits a minute after a refused token call")
	require.Contains(t, err.Error(), "until 09:01:00 +08")
	require.Equal(t, 1, g.Stats().Calls[obtainMethod])

	clk.Advance(time.Minute)
	_, err = right.Member.Get(ctx(t), &ump.MemberQuery{Phone: fleettest.Phone})
	require.NoError(t, err, "the corrected client works the same day")
	require.Equal(t, 1, g.Stats().TokenObtains, "the gateway issued exactly one token")
	st, err = right.Auth.Status(ctx(t))
	require.NoError(t, err)
	require.Equal(t, 1, st.Obtains)
	require.Zero(t, st.Pause, "the success cleared the pause")
}

// TestRefreshOutage: 75 minutes of "system busy" and then proxy 502s on
// the refresh call, with three clients (three processes' stores) asking
// every 20 s. No refresh the gateway did not issue is counted, and the
// fleet makes at most one refresh attempt per backoff step.
func TestRefreshOutage(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(beijingMorning)
	g := fleetGateway(t, clk)
	var clients []*ump.Client
	for range 3 {
		clients = append(clients, fleettest.Client(g, redisstore.New(srv.Client(t))))
	}
	first, err := clients[0].Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	clk.Advance(dueIn) // due for a proactive refresh, 11 minutes left
	start := clk.Now()
	g.Fail(refreshMethod, umptest.Fault{Kind: umptest.SystemBusy})
	const step = 20 * time.Second
	for clk.Now().Sub(start) < 75*time.Minute {
		if clk.Now().Sub(start) >= 40*time.Minute && clk.Now().Sub(start) < 40*time.Minute+step {
			g.ClearFaults()
			g.Fail(refreshMethod, umptest.Fault{Kind: umptest.HTTPStatus, Status: 502})
		}
		for _, c := range clients {
			_, _ = c.Auth.AccessToken(ctx(t))
		}
		clk.Advance(step)
	}
	failed := g.Stats().Calls[refreshMethod]
	require.Zero(t, g.Stats().TokenRefreshes)
	st, err := clients[1].Auth.Status(ctx(t))
	require.NoError(t, err)
	require.Zero(t, st.Refreshes, "refreshes the gateway refused are not counted")

	// The outage ends; the fleet renews once its pause is over.
	g.ClearFaults()
	var renewed string
	for renewed == "" && clk.Now().Sub(start) < 3*time.Hour {
		for _, c := range clients {
			if tok, err := c.Auth.AccessToken(ctx(t)); err == nil && tok != first {
				renewed = tok
			}
		}
		clk.Advance(step)
	}
	require.NotEmpty(t, renewed, "the fleet never renewed after the outage")
	stats := g.Stats()
	require.Equal(t, 1, stats.TokenRefreshes)
	require.Equal(t, failed+1, stats.Calls[refreshMethod])
	st, err = clients[2].Auth.Status(ctx(t))
	require.NoError(t, err)
	require.Equal(t, stats.TokenRefreshes, st.Refreshes, "spent refreshes equal the refreshes the gateway issued")

	var times []time.Time
	for _, r := range g.Requests() {
		if r.Method == refreshMethod {
			times = append(times, r.Time)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	t.Logf("refresh attempts during 75 min of outage: %d (minutes from its start: %v)", failed, minutesFrom(start, times))
	for i := 1; i < len(times); i++ {
		wait := min(time.Minute<<(i-1), time.Hour)
		require.GreaterOrEqual(t, times[i].Sub(times[i-1]), wait,
			"refresh attempt %d came %v after the one before; the fleet's backoff step was %v", i+1, times[i].Sub(times[i-1]), wait)
	}
}

func minutesFrom(start time.Time, ts []time.Time) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(start).Minutes()
	}
	return out
}

// TestRevokedRefreshTokenObtainsOnce: the gateway no longer honours the
// fleet's refresh token (another process obtained one); the next day three
// clients, twenty goroutines, recover with exactly one obtain, and a second
// revocation that day costs no obtain: never a loop.
func TestRevokedRefreshTokenObtainsOnce(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(beijingMorning)
	g := fleetGateway(t, clk)
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var clients []*ump.Client
	for range 3 {
		// The document names no code for a refused refresh token; this
		// gateway's is configured, as an operator would.
		clients = append(clients, fleettest.Client(g, redisstore.New(srv.Client(t)),
			ump.WithTokenInvalidCodes(1006), ump.WithLogger(logger)))
	}
	_, err := clients[0].Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	clk.Advance(24 * time.Hour) // the next Beijing day: the access token expired
	g.ExpireRefreshTokens()
	tokens := make(chan string, 20)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := clients[i%3].Auth.AccessToken(ctx(t))
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		}()
	}
	wg.Wait()
	close(tokens)
	seen := map[string]bool{}
	for tok := range tokens {
		seen[tok] = true
	}
	require.Len(t, seen, 1, "the clients hold different tokens")
	stats := g.Stats()
	require.Equal(t, 1, stats.Calls[refreshMethod], "one refresh, refused")
	require.Equal(t, 2, stats.TokenObtains, "exactly one obtain on the second day")
	require.Contains(t, logs.String(), `level=WARN msg="ump: the gateway refused the refresh token; obtaining a fresh token once (today's obtain)"`)
	for _, c := range clients {
		_, err := c.Member.Get(ctx(t), &ump.MemberQuery{Phone: fleettest.Phone})
		require.NoError(t, err)
	}

	// Revoked again the same day: today's obtain is spent, so no obtain.
	clk.Advance(3 * time.Hour)
	g.ExpireRefreshTokens()
	for _, c := range clients {
		_, err = c.Auth.AccessToken(ctx(t))
		require.Error(t, err)
	}
	require.ErrorIs(t, err, ump.ErrTokenCallsPaused)
	stats = g.Stats()
	require.Equal(t, 2, stats.Calls[refreshMethod], "one more refresh, refused, then the fleet waits")
	require.Equal(t, 2, stats.TokenObtains)
	require.Equal(t, 2, stats.Calls[obtainMethod], "no obtain the budget does not allow")
}

// lapsingStore lets a test act in the middle of a holder's renewal: after
// the holder counted its refresh and before it calls the gateway.
type lapsingStore struct {
	ump.TokenStore
	afterSpend func()
}

func (s *lapsingStore) Spend(ctx context.Context, appID string, sp ump.TokenSpend, limit int) (ump.TokenDay, bool, error) {
	d, ok, err := s.TokenStore.Spend(ctx, appID, sp, limit)
	if f := s.afterSpend; f != nil {
		s.afterSpend = nil
		f()
	}
	return d, ok, err
}

// TestLapsedLeaseNeverOverwritesNewerToken: holder A's lease lapses while it
// refreshes (a slow store), B takes the lease, refreshes and stores version
// 2; A's write, made over version 1, is fenced out: the record stays B's.
func TestLapsedLeaseNeverOverwritesNewerToken(t *testing.T) {
	srv := redistest.Start(t)
	clk := umptest.NewClock(beijingMorning)
	g := fleetGateway(t, clk)
	var logs logtest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rdb := srv.Client(t)
	lapsing := &lapsingStore{TokenStore: redisstore.New(rdb)}
	a := fleettest.Client(g, lapsing, ump.WithLogger(logger))
	b := fleettest.Client(g, redisstore.New(srv.Client(t)))
	first, err := a.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	_, err = b.Auth.AccessToken(ctx(t))
	require.NoError(t, err)

	clk.Advance(dueIn)
	var fromB string
	lapsing.afterSpend = func() {
		// A's lease lapses; B renews meanwhile.
		require.NoError(t, rdb.Del(ctx(t), "ump:token:{"+g.AppID+"}:lease").Err())
		fromB, err = b.Auth.AccessToken(ctx(t))
		require.NoError(t, err)
	}
	fromA, err := a.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.NotEqual(t, first, fromB)
	require.NotEqual(t, fromB, fromA, "both refreshed, one after the other")
	rec, err := redisstore.New(rdb).Load(ctx(t), g.AppID)
	require.NoError(t, err)
	require.Equal(t, int64(2), rec.Version)
	require.Equal(t, fromB, rec.AccessToken, "the stale holder overwrote the newer token")
	require.Contains(t, logs.String(), `level=WARN msg="ump: another holder stored a newer token while this one renewed (the lease lapsed); not overwriting it"`)
	require.Equal(t, 2, g.Stats().TokenRefreshes)
}
