// Package fleettest runs SDK clients on a shared token store against an
// emulated gateway, for the store packages' own tests.
package fleettest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
	"github.com/stretchr/testify/require"
)

// Phone is the member every Gateway holds, for business calls that prove a
// token works.
const Phone = "13800000000"

// Gateway starts an emulated gateway for tests that run the SDK on a store:
// on clk (real time if nil), holding the member Phone, closed when t ends.
// The test fails if the gateway rejected any request: every token a client
// of these tests sends must be one the gateway issued and still honours.
func Gateway(t *testing.T, clk *umptest.Clock) *umptest.Server {
	t.Helper()
	g := umptest.NewServer(umptest.WithClock(clk))
	g.AddMember(umptest.Member{Phone: Phone})
	t.Cleanup(func() {
		g.Close()
		if n := g.Stats().Rejected; n > 0 {
			t.Errorf("the gateway rejected %d requests", n)
		}
	})
	return g
}

// Client returns a client of g's app on g's clock, keeping its token in
// store, with retries quick enough for tests.
func Client(g *umptest.Server, store ump.TokenStore, opts ...ump.Option) *ump.Client {
	base := []ump.Option{ump.WithTokenStore(store),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})}
	return g.Client(append(base, opts...)...)
}

// RequireServes asserts that c's token is tok and that g accepts it: a
// business call (3.2) succeeds without a token call or a rejection, so tok is
// the token the gateway issued last, not one a client made up or kept too
// long.
func RequireServes(t *testing.T, g *umptest.Server, c *ump.Client, tok string) {
	t.Helper()
	got, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, tok, got)
	before := g.Stats()
	_, err = c.Member.Get(ctx(t), &ump.MemberQuery{Phone: Phone})
	require.NoError(t, err)
	after := g.Stats()
	require.Equal(t, before.TokenObtains, after.TokenObtains, "the call needed an obtain")
	require.Equal(t, before.TokenRefreshes, after.TokenRefreshes, "the call needed a refresh")
	require.Equal(t, before.Rejected, after.Rejected, "the gateway rejected the token")
}

// RequireOneObtain starts the clients cold, many goroutines each, and asserts
// that they all got one token, the only one the gateway issued (one obtain,
// no refresh), and that the gateway accepts it. It returns the token.
func RequireOneObtain(t *testing.T, g *umptest.Server, clients ...*ump.Client) string {
	t.Helper()
	const goroutines = 40
	tokens := make(chan string, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := clients[i%len(clients)].Auth.AccessToken(ctx(t))
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		}()
	}
	wg.Wait()
	close(tokens)
	first := <-tokens
	for tok := range tokens {
		require.Equal(t, first, tok, "two clients hold different tokens")
	}
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains, "the clients obtained more than once")
	require.Zero(t, st.TokenRefreshes)
	for _, c := range clients {
		RequireServes(t, g, c, first)
	}
	return first
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// PrintTokens is the body of a fleet process that store tests start as a
// separate OS process: it runs get from n goroutines at once and prints
// "token: T" or "error: E" per goroutine on stdout, for the parent to count.
func PrintTokens(ctx context.Context, n int, get func(context.Context) (string, error)) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := get(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				fmt.Println("error:", err)
				return
			}
			fmt.Println("token:", tok)
		}()
	}
	wg.Wait()
}
