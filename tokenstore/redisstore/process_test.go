package redisstore_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/internal/fleettest"
	"github.com/greedc/ump-go/tokenstore/redisstore"
	"github.com/greedc/ump-go/umptest"
)

// helperEnv makes the test binary act as one fleet process.
const helperEnv = "UMP_REDISSTORE_HELPER"

// TestHelperProcess is the body of the processes TestProcessesRecoverFromRevokedRefreshToken
// starts; run directly it does nothing. It looks a member up from ten
// goroutines and prints the token each then holds.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for TestProcessesRecoverFromRevokedRefreshToken")
	}
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("UMP_REDIS")})
	defer rdb.Close()
	// The document names no code for a refused refresh token; the
	// emulator's is configured, as an operator would.
	c, err := ump.NewClient(appID, umptest.DefaultAppSecret, ump.WithBaseURL(os.Getenv("UMP_GATEWAY")),
		ump.WithTokenStore(redisstore.New(rdb)), ump.WithTokenInvalidCodes(1006))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fleettest.PrintTokens(ctx, 10, func(ctx context.Context) (string, error) {
		if _, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: fleettest.Phone}); err != nil {
			return "", err
		}
		return c.Auth.AccessToken(ctx)
	})
	os.Exit(0)
}

// TestProcessesRecoverFromRevokedRefreshToken: the stored token's access and
// refresh tokens stop working (another process obtained one); three OS
// processes sharing Redis recover with one refresh attempt and exactly one
// obtain between them, and all hold the token the gateway issued.
func TestProcessesRecoverFromRevokedRefreshToken(t *testing.T) {
	srv := redistest.Start(t)
	g := umptest.NewServer()
	g.AddMember(umptest.Member{Phone: fleettest.Phone})
	t.Cleanup(g.Close)
	_, err := redisstore.New(srv.Client(t)).CompareAndSwap(ctx(t), appID, 0, g.IssueToken())
	require.NoError(t, err)
	g.ExpireAccessTokens()
	g.ExpireRefreshTokens()

	const procs = 3
	cctx := ctx(t)
	outs := make([]bytes.Buffer, procs)
	cmds := make([]*exec.Cmd, procs)
	for i := range procs {
		cmd := exec.CommandContext(cctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "UMP_REDIS="+srv.Addr, "UMP_GATEWAY="+g.URL)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	var seen []string
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "process %d: %s", i, outs[i].String())
		sc := bufio.NewScanner(&outs[i])
		for sc.Scan() {
			line := sc.Text()
			require.False(t, strings.HasPrefix(line, "error:"), "process %d: %s", i, line)
			if tok, ok := strings.CutPrefix(line, "token: "); ok {
				seen = append(seen, tok)
			}
		}
	}
	require.Len(t, seen, procs*10)
	for _, tok := range seen {
		require.Equal(t, seen[0], tok, "two processes hold different tokens")
	}
	st := g.Stats()
	require.Equal(t, 1, st.Calls[refreshMethod], "one refresh, refused")
	require.Equal(t, 1, st.TokenObtains, "exactly one obtain across the processes")
	c := fleettest.Client(g, redisstore.New(srv.Client(t)))
	got, err := c.Auth.AccessToken(ctx(t))
	require.NoError(t, err)
	require.Equal(t, seen[0], got, "the store holds the token the processes use")
	_, err = c.Member.Get(ctx(t), &ump.MemberQuery{Phone: fleettest.Phone})
	require.NoError(t, err, "the gateway honours it")
}
