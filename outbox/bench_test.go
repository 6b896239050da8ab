package outbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/umptest"
)

// BenchmarkEnqueue reports the latency of EnqueueConsume on the bbolt store
// (each one committed and synced to disk): p50 and p99 in microseconds.
func BenchmarkEnqueue(b *testing.B) {
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	defer store.Close()
	ob := outbox.New(store)
	at := time.Now()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: fmt.Sprintf("B%08d", i), OpenID: "m",
			ConsumeDate: at, OrderAmount: ump.Yuan(12, 50), OrderScore: 12}}
		start := time.Now()
		if _, err := ob.EnqueueConsume(b.Context(), req); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkSyncFloor reports the latency of one 4 KiB write and fdatasync
// in the same directory as BenchmarkEnqueue: the disk's floor, to read
// Enqueue's numbers against (bbolt syncs twice per commit).
func BenchmarkSyncFloor(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "floor"))
	require.NoError(b, err)
	defer f.Close()
	page := make([]byte, 4096)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := f.WriteAt(page, int64(i%64)*4096); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkDrain reports how many jobs a second a Drainer delivers from the
// bbolt store to umptest (no faults), 40 members, concurrency 4.
func BenchmarkDrain(b *testing.B) {
	srv := umptest.NewServer()
	defer srv.Close()
	var members []string
	for i := range 40 {
		members = append(members, srv.AddMember(umptest.Member{Phone: fmt.Sprintf("139%08d", i+1)}))
	}
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	defer store.Close()
	ob := outbox.New(store)
	at := time.Now()
	for i := 0; i < b.N; i++ {
		_, err := ob.EnqueueConsume(b.Context(), &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
			OrderNo: fmt.Sprintf("D%08d", i), OpenID: members[i%len(members)], ConsumeDate: at, OrderAmount: ump.Yuan(1, 0), OrderScore: 1}})
		require.NoError(b, err)
	}
	d := outbox.NewDrainer(store, srv.Client(), outbox.WithConcurrency(4), outbox.WithPollInterval(time.Millisecond))
	b.ResetTimer()
	start := time.Now()
	st, err := d.DrainOnce(b.Context())
	elapsed := time.Since(start)
	b.StopTimer()
	require.NoError(b, err)
	require.Equal(b, b.N, st.Delivered)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}
