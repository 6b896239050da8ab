package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/testutil/logtest"
)

// TestSandboxCutsOffSlowBodies: 200 clients send their headers and a few
// bytes of a body they promised to be longer, then stall. With a short
// --read-timeout every connection is answered and closed by the sandbox;
// none is held open. The bound below is a failure bound for a sandbox
// that would hold them for ever, not a measure of how fast it is.
func TestSandboxCutsOffSlowBodies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr logtest.Buffer
	base, done := startSandbox(t, ctx, nil, &stderr, "--read-timeout", "500ms")
	u, err := url.Parse(base)
	require.NoError(t, err)

	const clients = 200
	failBound := time.Now().Add(60 * time.Second)
	errs := make([]error, clients)
	answers := make([]string, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			_, err = fmt.Fprintf(conn, "POST /gw/gateway/wk.user.level.list/v1?access_token=x HTTP/1.1\r\n"+
				"Host: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"page_no\":", u.Host)
			if err != nil {
				errs[i] = err
				return
			}
			_ = conn.SetReadDeadline(failBound)
			answer, err := io.ReadAll(conn) // returns once the sandbox closes the connection
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				errs[i] = fmt.Errorf("client %d: connection still open at the failure bound", i)
				return
			}
			answers[i] = string(answer)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	for i, a := range answers {
		if a != "" { // an answer, when one made it out before the close, says why
			status, _, _ := strings.Cut(a, "\r\n")
			require.Equal(t, "HTTP/1.1 400 Bad Request", status, "client %d: %s", i, a)
			require.Contains(t, a, "request body could not be read", "client %d", i)
		}
	}

	// The sandbox still serves.
	conn, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	fmt.Fprintf(conn, "GET /gw/gateway/wk.user.level.list/v1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", u.Host)
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 200 OK\r\n", status, "a request without timestamp is refused in an envelope")
	conn.Close()

	cancel()
	require.Equal(t, exitOK, <-done, stderr.String())
}

func TestSandboxRefusesNonPositiveLimits(t *testing.T) {
	for _, flag := range []string{"--max-body=0", "--read-timeout=0s", "--write-timeout=-1s", "--idle-timeout=0s"} {
		r := runWith(t, nil, time.Now, "", "sandbox", "--addr", "127.0.0.1:0", flag)
		require.Equal(t, exitUsage, r.code, flag)
		require.Contains(t, r.stderr, "must be above zero", flag)
	}
}
