package ump_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/tokenstore/redisstore"
	"github.com/greedc/ump-go/umptest"
)

// The fleet: processes × goroutines × calls per goroutine and phase.
const (
	fleetProcs      = 4
	fleetGoroutines = 16
	fleetCalls      = 5
	fleetHelperEnv  = "UMP_FLEET_HELPER"
	fleetPhone      = "13800001111"
)

// TestFleetHelperProcess is one process of TestFleetSharesOneToken. It talks
// to the test on stdin/stdout: it prints "ready", and for each of two phases
// waits for "go", makes its calls and prints "ok <token>" or "error: ...".
func TestFleetHelperProcess(t *testing.T) {
	if os.Getenv(fleetHelperEnv) != "1" {
		t.Skip("helper process for TestFleetSharesOneToken")
	}
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("UMP_REDIS_ADDR")})
	defer rdb.Close()
	c, err := ump.NewClient(umptest.DefaultAppID, umptest.DefaultAppSecret,
		ump.WithBaseURL(os.Getenv("UMP_GATEWAY")), ump.WithTokenStore(redisstore.New(rdb)),
		ump.WithTimeout(5*time.Second))
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := bufio.NewScanner(os.Stdin)
	fmt.Println("ready")
	for phase := 1; phase <= 2; phase++ {
		if !in.Scan() || in.Text() != "go" {
			fail(fmt.Errorf("phase %d: no go from the test", phase))
		}
		errs := make(chan error, fleetGoroutines*fleetCalls)
		var wg sync.WaitGroup
		for range fleetGoroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range fleetCalls {
					if _, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: fleetPhone}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			fail(fmt.Errorf("phase %d: %w", phase, err))
		}
		tok, err := c.Auth.AccessToken(ctx)
		if err != nil {
			fail(err)
		}
		fmt.Println("ok", tok)
	}
	os.Exit(0)
}

// fleetProc is a running helper process.
type fleetProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// next returns the process's next line of output.
func (p *fleetProc) next(ctx context.Context, t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		require.True(t, ok, "helper process ended early")
		return line
	case <-ctx.Done():
		t.Fatalf("helper process did not answer: %v", ctx.Err())
		return ""
	}
}

// TestFleetSharesOneToken starts several OS processes, each with many
// goroutines, cold against one gateway and one Redis: the fleet obtains one
// token in total. Then the gateway rejects that token (HTTP 401): the fleet
// refreshes it once in total, and every call still succeeds. The counts are
// umptest's own.
func TestFleetSharesOneToken(t *testing.T) {
	srv := redistest.Start(t)
	g := umptest.NewServer()
	defer g.Close()
	g.AddMember(umptest.Member{Phone: fleetPhone})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	procs := make([]*fleetProc, fleetProcs)
	for i := range procs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestFleetHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fleetHelperEnv+"=1", "UMP_REDIS_ADDR="+srv.Addr, "UMP_GATEWAY="+g.URL)
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		p := &fleetProc{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
		go func() {
			defer close(p.lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				p.lines <- sc.Text()
			}
		}()
		procs[i] = p
	}
	defer func() {
		for _, p := range procs {
			_ = p.stdin.Close()
			_ = p.cmd.Wait()
		}
	}()
	for _, p := range procs {
		require.Equal(t, "ready", p.next(ctx, t))
	}

	phase := func() string {
		t.Helper()
		for _, p := range procs {
			_, err := io.WriteString(p.stdin, "go\n")
			require.NoError(t, err)
		}
		var first string
		for i, p := range procs {
			line := p.next(ctx, t)
			tok, ok := strings.CutPrefix(line, "ok ")
			require.True(t, ok, "process %d: %s", i, line)
			if i == 0 {
				first = tok
			}
			require.Equal(t, first, tok, "process %d ended on another token", i)
		}
		return first
	}
	const method = "wk.user.info.query"

	firstToken := phase()
	st := g.Stats()
	require.Equal(t, 1, st.TokenObtains, "the cold fleet obtained more than once")
	require.Zero(t, st.TokenRefreshes)
	require.Equal(t, fleetProcs*fleetGoroutines*fleetCalls, st.Calls[method])

	g.ExpireAccessTokens()
	secondToken := phase()
	st = g.Stats()
	require.NotEqual(t, firstToken, secondToken)
	require.Equal(t, 1, st.TokenObtains, "an expired token made the fleet obtain")
	require.Equal(t, 1, st.TokenRefreshes, "the fleet refreshed the expired token more than once")
	require.Positive(t, st.Rejected, "no call was rejected: the test proved nothing")

	for i, p := range procs {
		require.NoError(t, p.stdin.Close())
		require.NoError(t, p.cmd.Wait(), "process %d", i)
	}
}
