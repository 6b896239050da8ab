package boltstore_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/outboxtest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	outboxtest.Run(t, func(t *testing.T, name string) outbox.Store {
		s, err := boltstore.Open(filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openStore(t *testing.T, path string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	return s
}

// fill enqueues n sales, half of them moved to the dead letters.
func fill(t *testing.T, s outbox.Store, n int) {
	t.Helper()
	ob := outbox.New(s)
	for i := range n {
		j := outboxtest.Sale(fmt.Sprintf("S%03d", i), fmt.Sprintf("m%d", i))
		_, err := ob.EnqueueConsume(t.Context(), j.Consume)
		require.NoError(t, err)
	}
	jobs, err := s.Claim(t.Context(), time.Now(), n/2)
	require.NoError(t, err)
	for _, j := range jobs {
		j.State, j.Code = outbox.StateDead, 110003
		require.NoError(t, s.Update(t.Context(), j))
	}
}

// TestCorruptFile: a damaged file is an error naming it, the file is left
// byte for byte as it was, and Export recovers the jobs from its bytes.
func TestCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := openStore(t, path)
	fill(t, s, 40)
	require.NoError(t, s.Close())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// Both meta pages (the first two 4 KiB pages) damaged.
	for i := 16; i < 2*4096; i += 64 {
		data[i] ^= 0xff
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))

	_, err = boltstore.Open(path)
	require.ErrorIs(t, err, boltstore.ErrCorrupt)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "ump outbox export")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, after, "the file was not touched")

	var out bytes.Buffer
	res, err := boltstore.Export(path, &out)
	require.NoError(t, err)
	assert.True(t, res.Salvaged)
	assert.Equal(t, 40, res.Jobs)
	var dead, resend int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		j, err := outbox.DecodeJob([]byte(line))
		require.NoError(t, err)
		require.NoError(t, j.Validate())
		if j.State == outbox.StateDead {
			dead++
		}
		if j.Resend {
			resend++
		}
	}
	assert.Equal(t, 20, dead)
	assert.Equal(t, 40, resend, "salvaged jobs are settled under their key")
	after, _ = os.ReadFile(path)
	assert.Equal(t, data, after, "export did not write")

	// The salvage imports into a new store.
	fresh := openStore(t, filepath.Join(t.TempDir(), "new.db"))
	defer fresh.Close()
	ob := outbox.New(fresh)
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		j, err := outbox.DecodeJob([]byte(line))
		require.NoError(t, err)
		_, err = ob.Import(t.Context(), j)
		require.NoError(t, err)
	}
	n, err := ob.Pending(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 40, n)
}

// TestExportReadable: a sound file exports as it is, not salvaged.
func TestExportReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := openStore(t, path)
	fill(t, s, 10)
	require.NoError(t, s.Close())
	var out bytes.Buffer
	res, err := boltstore.Export(path, &out)
	require.NoError(t, err)
	assert.Equal(t, boltstore.ExportResult{Jobs: 10}, res)
	assert.NotContains(t, out.String(), `"resend"`)
}

// TestNotAStore: another program's file is refused and left alone.
func TestNotAStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	data := bytes.Repeat([]byte("not a database\n"), 1000)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err := boltstore.Open(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
	after, _ := os.ReadFile(path)
	assert.Equal(t, data, after)
}

// TestInUse: a second opener waits, then fails naming the file.
func TestInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "till.db")
	s := openStore(t, path)
	defer s.Close()
	_, err := boltstore.Open(path, boltstore.WithLockTimeout(50*time.Millisecond))
	require.Error(t, err)
	assert.Contains(t, err.Error(), path+": in use by another process")
}
