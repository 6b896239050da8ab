package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/greedc/ump-go/internal/testutil/redistest"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/outboxtest"
	"github.com/greedc/ump-go/outbox/redisstore"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	outboxtest.Run(t, func(t *testing.T, name string) outbox.Store {
		// The same name is the same process restarted: same consumer.
		s, err := redisstore.Open(context.Background(), rdb, redisstore.WithName(name),
			redisstore.WithConsumer("till-"+name), redisstore.WithClaimIdle(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTakeover: the jobs a consumer held when it died (no Update) are
// claimed by another once idle for the claim idle time, with their
// recorded state; until then they are not.
func TestTakeover(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	ctx := context.Background()
	open := func(consumer string) *redisstore.Store {
		s, err := redisstore.Open(ctx, rdb, redisstore.WithName("takeover"), redisstore.WithConsumer(consumer),
			redisstore.WithClaimIdle(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a := open("a")
	for _, j := range []*outbox.Job{outboxtest.Sale("S1", "m1"), outboxtest.Sale("S2", "m2")} {
		if err := a.Add(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := a.Claim(ctx, time.Now(), 10)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("a claimed %d jobs, %v", len(jobs), err)
	}
	jobs[0].State, jobs[0].Attempts, jobs[0].Resend = outbox.StateSending, 1, true
	if err := a.Update(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	// a dies here, both jobs held.
	b := open("b")
	if got, err := b.Claim(ctx, time.Now(), 10); err != nil || len(got) != 0 {
		t.Fatalf("b claimed %d jobs at once, %v; want none before the idle time", len(got), err)
	}
	time.Sleep(300 * time.Millisecond)
	got, err := b.Claim(ctx, time.Now(), 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("b claimed %d jobs after the idle time, %v; want 2", len(got), err)
	}
	if got[0].Key() != "order_no=S1" || !got[0].Resend || got[0].Attempts != 1 {
		t.Fatalf("b took over %+v, want S1 with its attempt recorded", got[0])
	}
	// a, back from the dead, can no longer record anything for them.
	jobs[1].State = outbox.StateDelivered
	if err := a.Update(ctx, jobs[1]); err != outbox.ErrLeaseLost {
		t.Fatalf("a's update after the takeover: %v, want ErrLeaseLost", err)
	}
	for _, j := range got {
		j.State = outbox.StateDelivered
		if err := b.Update(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := b.Stats(ctx); err != nil || st.Queued != 0 {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}
