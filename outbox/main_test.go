package outbox_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/redisstore"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/umptest"
)

// helperEnv makes the test binary a drainer process (see drainerMain)
// instead of running tests: the crash tests start it, and SIGKILL it.
const helperEnv = "UMP_OUTBOX_TEST_DRAINER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(drainerMain())
	}
	goleak.VerifyTestMain(m)
}

// drainerMain drains the store named by the environment into the gateway
// named there, printing "delivered <key>" after each delivery is recorded.
// It is a separate OS process so that a test can kill it with SIGKILL at
// any point, as a power cut would.
func drainerMain() int {
	env := os.Getenv
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var store outbox.Store
	var tokens ump.TokenStore
	var err error
	if path, ok := strings.CutPrefix(env("STORE"), "bolt:"); ok {
		store, err = boltstore.Open(path, boltstore.WithLockTimeout(10*time.Second))
		if err == nil {
			tokens, err = filestore.New(env("TOKENS"))
		}
	} else {
		rdb := redis.NewClient(&redis.Options{Addr: env("STORE")})
		defer rdb.Close()
		store, err = redisstore.Open(ctx, rdb, redisstore.WithName(env("NAME")),
			redisstore.WithConsumer(env("CONSUMER")), redisstore.WithClaimIdle(time.Second))
		tokens = redisTokens(rdb)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainer:", err)
		return 2
	}
	defer store.Close()
	c, err := ump.NewClient(env("APP_ID"), env("APP_SECRET"), ump.WithBaseURL(env("GATEWAY")), ump.WithTokenStore(tokens))
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainer:", err)
		return 2
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	d := outbox.NewDrainer(store, c, outbox.WithConcurrency(4), outbox.WithBackoff(5*time.Millisecond, 50*time.Millisecond),
		outbox.WithPollInterval(5*time.Millisecond), outbox.WithAttemptTimeout(300*time.Millisecond),
		outbox.WithObserver(func(e outbox.Event) {
			if e.Outcome == outbox.StateDelivered {
				mu.Lock()
				fmt.Fprintln(out, "delivered", e.Job.Key())
				out.Flush()
				mu.Unlock()
			}
		}))
	st, err := d.DrainOnce(ctx)
	mu.Lock()
	fmt.Fprintf(out, "done %d delivered, %d retried, %d dead\n", st.Delivered, st.Retried, st.Dead)
	out.Flush()
	mu.Unlock()
	if err != nil {
		fmt.Fprintln(os.Stderr, "drainer:", err)
		return 1
	}
	return 0
}

// drainer is a drainer process started by a test.
type drainer struct {
	cmd       *exec.Cmd
	delivered chan string
	done      chan error
	stderr    *strings.Builder
}

// startDrainer starts the test binary as a drainer process with env.
func startDrainer(t *testing.T, env ...string) *drainer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"=1"), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &drainer{cmd: cmd, delivered: make(chan string, 1000), done: make(chan error, 1), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if key, ok := strings.CutPrefix(sc.Text(), "delivered "); ok {
				p.delivered <- key
			}
		}
		close(p.delivered)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// killAfter SIGKILLs the process once it has reported n deliveries, and
// waits for it to die. It returns the keys reported, those it printed
// before it died included.
func (p *drainer) killAfter(t *testing.T, n int) []string {
	t.Helper()
	var keys []string
	for key := range p.delivered {
		keys = append(keys, key)
		if len(keys) == n {
			require.NoError(t, p.cmd.Process.Kill())
			break
		}
	}
	for key := range p.delivered { // what it printed before it died
		keys = append(keys, key)
	}
	err := <-p.done
	p.done <- err // for Cleanup
	require.GreaterOrEqual(t, len(keys), n, "the drainer ended before its %dth delivery: %v: %s", n, err, p.stderr)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, p.stderr)
	require.Equal(t, "signal: killed", exit.String())
	return keys
}

// wait waits for the process to end by itself and returns its output.
func (p *drainer) wait(t *testing.T) []string {
	t.Helper()
	var keys []string
	for key := range p.delivered {
		keys = append(keys, key)
	}
	err := <-p.done
	p.done <- err
	require.NoError(t, err, p.stderr.String())
	return keys
}

// offline is an HTTP client whose every dial fails, as with the network
// cable out.
func offline() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, network, _ string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ENETUNREACH}
		},
	}}
}

// obtainToken fills tokens with a token for srv's app, as "ump token
// bootstrap" would, so the drainer processes share it.
func obtainToken(t *testing.T, srv *umptest.Server, tokens ump.TokenStore) {
	t.Helper()
	c := srv.Client(ump.WithTokenStore(tokens))
	_, err := c.Auth.AccessToken(t.Context())
	require.NoError(t, err)
}

func tokenFile(t *testing.T) (string, ump.TokenStore) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	fs, err := filestore.New(path)
	require.NoError(t, err)
	return path, fs
}

// faulty sets the faults of the crash tests on the three calls: 20% of the
// calls applied with the answer lost, 10% answered "system busy" (the
// second fault meets the calls the first spared, hence 0.125).
func faulty(srv *umptest.Server) {
	for _, m := range []string{"wk.user.consume.order", "wk.user.refund.order", "wk.user.event.score.change"} {
		srv.Fail(m, umptest.Fault{Kind: umptest.DropAfterApply, Rate: 0.2})
		srv.Fail(m, umptest.Fault{Kind: umptest.SystemBusy, Rate: 0.125})
	}
}

func gatewayEnv(srv *umptest.Server) []string {
	return []string{"GATEWAY=" + srv.URL, "APP_ID=" + srv.AppID, "APP_SECRET=" + srv.AppSecret}
}

func assertEmpty(t *testing.T, store outbox.Store) {
	t.Helper()
	st, err := store.Stats(t.Context())
	require.NoError(t, err)
	assert.Equal(t, outbox.Stats{}, st, "queued and dead")
}
