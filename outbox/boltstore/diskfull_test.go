//go:build linux

package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/outboxtest"
)

const fillEnv = "UMP_OUTBOX_TEST_FILL"

func TestMain(m *testing.M) {
	if path := os.Getenv(fillEnv); path != "" {
		os.Exit(fillUntilFull(path))
	}
	os.Exit(m.Run())
}

// fillUntilFull enqueues sales into the store at path with the file size
// capped (RLIMIT_FSIZE), as on a full disk, until Enqueue fails. It prints
// how many succeeded and the error.
func fillUntilFull(path string) int {
	s, err := boltstore.Open(path)
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	fi, _ := os.Stat(path)
	signal.Ignore(syscall.SIGXFSZ) // a write past the cap fails with EFBIG instead
	limit := uint64(fi.Size()) + 64<<10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
		fmt.Println("setrlimit:", err)
		return 2
	}
	ob := outbox.New(s)
	for i := 0; ; i++ {
		j := outboxtest.Sale(fmt.Sprintf("S%05d", i), fmt.Sprintf("m%d", i%7))
		j.Consume.Desc = strings.Repeat("货", 300)
		if _, err := ob.EnqueueConsume(context.Background(), j.Consume); err != nil {
			fmt.Printf("%d\n%v\n", i, err)
			return 0
		}
		if i > 100000 {
			fmt.Println("never full")
			return 2
		}
	}
}

// TestDiskFull: when the disk fills, Enqueue fails; every Enqueue that
// returned nil is in the file, and the file opens again.
func TestDiskFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := openStore(t, path)
	require.NoError(t, s.Close())
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fillEnv+"="+path)
	out, err := cmd.Output()
	require.NoError(t, err, string(out))
	lines := strings.SplitN(string(out), "\n", 2)
	stored, err := strconv.Atoi(lines[0])
	require.NoError(t, err, string(out))
	assert.Contains(t, lines[1], "not queued: order_no=S")
	assert.Contains(t, lines[1], "file too large")
	require.Greater(t, stored, 10)

	s = openStore(t, path)
	defer s.Close()
	jobs, err := s.List(t.Context(), outbox.StateQueued, 0)
	require.NoError(t, err)
	require.Len(t, jobs, stored)
	assert.Equal(t, fmt.Sprintf("order_no=S%05d", stored-1), jobs[stored-1].Key())
	// And the file still takes more once there is room.
	_, err = outbox.New(s).EnqueueConsume(t.Context(), outboxtest.Sale("after", "m").Consume)
	require.NoError(t, err)
}
