//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSandboxStaysSmallUnderAFlood runs `ump sandbox` as its own process,
// built from this command, sends it 1,000 unauthenticated requests of 1 MiB
// each, and reads its resident memory from /proc: under 64 MiB afterwards.
// Before the sandbox stopped keeping strangers' bodies, 400 such requests
// took it to 496 MiB.
func TestSandboxStaysSmallUnderAFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and floods a sandbox process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "ump")
	gobin, err := exec.LookPath("go") // go test puts its own go first on PATH
	require.NoError(t, err)
	build := exec.CommandContext(ctx, gobin, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	sandbox := exec.CommandContext(ctx, bin, "sandbox", "--addr", "127.0.0.1:0", "--seed", "1")
	sandbox.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, err := sandbox.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, sandbox.Start())
	t.Cleanup(func() {
		_ = sandbox.Process.Kill()
		_ = sandbox.Wait()
	})
	lines := bufio.NewScanner(stderr)
	var base string
	for base == "" && lines.Scan() {
		if _, rest, ok := strings.Cut(lines.Text(), "url="); ok && strings.Contains(lines.Text(), "ump sandbox: serving") {
			base, _, _ = strings.Cut(rest, " ")
		}
	}
	require.NotEmpty(t, base, "the sandbox did not say where it serves")
	go func() { _, _ = io.Copy(io.Discard, stderr) }() // one log line per call

	body := bytes.Repeat([]byte("a"), 1<<20)
	const requests, workers = 1000, 8
	statuses := make(chan int, requests)
	jobs := make(chan int, requests)
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer hc.CloseIdleConnections()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				q := "access_token=stranger-" + strconv.Itoa(i) + "&timestamp=" + strconv.FormatInt(time.Now().UnixMilli(), 10) + "&sign=x"
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/gw/gateway/wk.user.info.query/v1?"+q, bytes.NewReader(body))
				if err != nil {
					statuses <- -1
					continue
				}
				resp, err := hc.Do(req)
				if err != nil {
					statuses <- -1
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses <- resp.StatusCode
			}
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: requests}, counts, "every request read whole and refused")

	rss, peak := memoryOf(t, sandbox.Process.Pid)
	t.Logf("sandbox after %d unauthenticated 1 MiB requests: VmRSS %d KiB, VmHWM (peak) %d KiB", requests, rss, peak)
	require.Less(t, rss, 64<<10, "resident memory in KiB")
	require.Less(t, peak, 64<<10, "peak resident memory in KiB, during the flood too")
}

// memoryOf returns a process's resident memory and its peak, in KiB, from
// /proc/PID/status.
func memoryOf(t *testing.T, pid int) (rss, peak int) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
		require.NoError(t, err, line)
		if name == "VmRSS" {
			rss = n
		} else {
			peak = n
		}
	}
	require.NotZero(t, rss, "no VmRSS in %s", status)
	return rss, peak
}
