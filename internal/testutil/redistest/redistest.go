// Package redistest starts a throwaway redis-server for tests: one per test,
// on a free loopback port, without persistence, killed when the test ends.
//
// Without a redis-server binary the tests that need one skip, unless the
// environment sets UMP_REQUIRE_REDIS=1 (CI does), in which case they fail:
// a green run must not hide that the Redis tests never ran.
package redistest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure.
const RequireEnv = "UMP_REQUIRE_REDIS"

// Server is a running redis-server.
type Server struct {
	// Addr is host:port; it stays the same across Restart.
	Addr string

	t   testing.TB
	bin string
	dir string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// Binary returns the redis-server path, skipping or failing t (see the
// package comment) if there is none.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("redis-server not found and %s=1: %v", RequireEnv, err)
		}
		t.Skipf("redis-server not found (set %s=1 to fail instead): %v", RequireEnv, err)
	}
	return bin
}

// Start starts a redis-server on a free loopback port and waits until it
// answers PING. It is killed when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	var err error
	for range 5 { // a port found free can be taken before redis binds it
		var port int
		if port, err = freePort(); err != nil {
			continue
		}
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--daemonize", "no",
		"--enable-debug-command", "local") // DEBUG SLEEP stalls it in tests
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.mu.Lock()
	s.cmd, s.out = cmd, out
	s.mu.Unlock()

	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("redis-server exited (%v): %s", err, out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			// Keep the exit watcher's result for Kill.
			go func() { err := <-exited; s.reaped(cmd, err) }()
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING: %v: %s", err, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reaped records that cmd exited.
func (s *Server) reaped(cmd *exec.Cmd, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == cmd {
		s.cmd = nil
	}
}

// Kill kills the server (SIGKILL, like a crash: nothing is saved) and waits
// until it is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	// Wait until the port is free again, so Restart can bind it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.mu.Lock()
		gone := s.cmd != cmd
		s.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			s.t.Errorf("redis-server %s did not exit after SIGKILL", s.Addr)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Restart kills the server and starts a new, empty one on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	for range 50 { // the port may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
}

// Client returns a client for the server, closed when the test ends. Its
// timeouts are short, so a test with the server down fails fast.
func (s *Server) Client(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{
		Addr: s.Addr, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
