// Package outboxtest checks that an outbox.Store keeps the contract the
// Drainer relies on. Run it from a test of your own store:
//
//	func TestConformance(t *testing.T) {
//		outboxtest.Run(t, func(t *testing.T, name string) outbox.Store {
//			return openMyStore(t, name)
//		})
//	}
//
// open must return the store called name, empty the first time; opened again
// with the same name after Close, it must hold the same jobs, as the same
// process restarted would (no lease survives).
package outboxtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
)

// Opener opens the store called name (see the package comment).
type Opener func(t *testing.T, name string) outbox.Store

// Run runs the conformance tests as subtests of t.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"AddSetsIDAndSeq", testAdd},
		{"DuplicateKey", testDuplicateKey},
		{"OneAtATimePerMember", testMemberOrder},
		{"ReturnWaitsForItsSale", testReturnWaits},
		{"Backoff", testBackoff},
		{"Leases", testLeases},
		{"DeadLetters", testDeadLetters},
		{"SendingSurvivesRestart", testRestart},
		{"ConcurrentClaims", testConcurrentClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

var base = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// Sale returns a valid sale for member (an open_id).
func Sale(orderNo, member string) *outbox.Job {
	return &outbox.Job{Kind: outbox.KindConsume, State: outbox.StateQueued, EnqueuedAt: base,
		Consume: &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
			OrderNo: orderNo, OpenID: member, ConsumeDate: base, OrderAmount: ump.Yuan(10, 0), OrderScore: 10}}}
}

// Return returns a valid return of sale for member.
func Return(orderNo, sale, member string) *outbox.Job {
	return &outbox.Job{Kind: outbox.KindRefund, State: outbox.StateQueued, EnqueuedAt: base,
		Refund: &ump.RefundOrderRequest{ParentOrderNo: sale, OrderDetails: ump.OrderDetails{
			OrderNo: orderNo, OpenID: member, ConsumeDate: base, OrderAmount: ump.Yuan(5, 0), OrderScore: 5}}}
}

// Change returns a valid score change for member.
func Change(changeID, member string) *outbox.Job {
	return &outbox.Job{Kind: outbox.KindScoreChange, State: outbox.StateQueued, EnqueuedAt: base,
		Change: &ump.ScoreChangeRequest{OpenID: member, Score: 7, OutBizNo: "biz-" + changeID,
			ChangeReason: "test", ChangeEvent: ump.EventAdd, ChangeID: changeID}}
}

func ctxOf(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func add(t *testing.T, s outbox.Store, jobs ...*outbox.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := s.Add(ctxOf(t), j); err != nil {
			t.Fatalf("Add(%s): %v", j.Key(), err)
		}
	}
}

func claim(t *testing.T, s outbox.Store, now time.Time, max int) []*outbox.Job {
	t.Helper()
	jobs, err := s.Claim(ctxOf(t), now, max)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return jobs
}

func keys(jobs []*outbox.Job) []string {
	out := make([]string, len(jobs))
	for i, j := range jobs {
		out[i] = j.Key()
	}
	return out
}

func wantKeys(t *testing.T, what string, jobs []*outbox.Job, want ...string) {
	t.Helper()
	got := keys(jobs)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func finish(t *testing.T, s outbox.Store, j *outbox.Job, state outbox.State) {
	t.Helper()
	j.State = state
	if err := s.Update(ctxOf(t), j); err != nil {
		t.Fatalf("Update(%s, %s): %v", j.Key(), state, err)
	}
}

func testAdd(t *testing.T, open Opener) {
	s := open(t, "add")
	defer s.Close()
	a, b := Sale("A1", "a"), Change("c1", "b")
	add(t, s, a, b)
	if a.ID == "" || b.ID == "" || a.ID == b.ID {
		t.Fatalf("IDs %q and %q: want two distinct ones", a.ID, b.ID)
	}
	if !(a.Seq < b.Seq) {
		t.Fatalf("Seq %d then %d: want increasing", a.Seq, b.Seq)
	}
	got, err := s.List(ctxOf(t), outbox.StateQueued, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys(t, "List", got, "order_no=A1", "change_id=c1")
	if got[0].ID != a.ID || got[0].Consume == nil || got[0].Consume.OrderScore != 10 || !got[0].EnqueuedAt.Equal(base) {
		t.Fatalf("List returned %+v, want the stored sale", got[0])
	}
	st, err := s.Stats(ctxOf(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Queued != 2 || st.Dead != 0 || !st.Oldest.Equal(base) {
		t.Fatalf("Stats = %+v, want 2 queued, oldest %v", st, base)
	}
	if got, _ := s.List(ctxOf(t), outbox.StateQueued, 1); len(got) != 1 {
		t.Fatalf("List with limit 1 returned %d jobs", len(got))
	}
}

func testDuplicateKey(t *testing.T, open Opener) {
	s := open(t, "dup")
	defer s.Close()
	add(t, s, Sale("A1", "a"))
	if err := s.Add(ctxOf(t), Sale("A1", "b")); !errors.Is(err, outbox.ErrDuplicateKey) {
		t.Fatalf("second A1: %v, want ErrDuplicateKey", err)
	}
	j := claim(t, s, base, 1)[0]
	j.Code = 110003
	finish(t, s, j, outbox.StateDead)
	if err := s.Add(ctxOf(t), Sale("A1", "b")); !errors.Is(err, outbox.ErrDuplicateKey) {
		t.Fatalf("A1 while dead: %v, want ErrDuplicateKey", err)
	}
	if n, err := s.Drop(ctxOf(t), j.ID); err != nil || n != 1 {
		t.Fatalf("Drop = %d, %v", n, err)
	}
	add(t, s, Sale("A1", "b")) // the key is free again
	k := claim(t, s, base, 1)[0]
	finish(t, s, k, outbox.StateDelivered)
	add(t, s, Sale("A1", "c")) // and after delivery
}

func testMemberOrder(t *testing.T, open Opener) {
	s := open(t, "member")
	defer s.Close()
	add(t, s, Sale("A1", "a"), Change("a2", "a"), Sale("B1", "b"), Sale("A3", "a"), Change("c1", "c"))
	first := claim(t, s, base, 10)
	wantKeys(t, "first claim", first, "order_no=A1", "order_no=B1", "change_id=c1")
	wantKeys(t, "while leased", claim(t, s, base, 10))
	// A job that failed and is queued again still holds its member's turn.
	first[0].Attempts, first[0].Resend, first[0].LastError = 1, true, "busy"
	finish(t, s, first[0], outbox.StateQueued)
	again := claim(t, s, base, 10)
	wantKeys(t, "after a retryable failure", again, "order_no=A1")
	if again[0].Attempts != 1 || !again[0].Resend || again[0].LastError != "busy" {
		t.Fatalf("state not kept: %+v", again[0])
	}
	finish(t, s, again[0], outbox.StateDelivered)
	wantKeys(t, "after A1", claim(t, s, base, 10), "change_id=a2")
	// A dead job does not hold up its member.
	wantKeys(t, "nothing else", claim(t, s, base, 10))
}

func testReturnWaits(t *testing.T, open Opener) {
	s := open(t, "return")
	defer s.Close()
	// The return is a different member's (a gift, a card changed hands):
	// it still waits for the sale.
	add(t, s, Change("a0", "a"), Sale("S1", "a"), Return("R1", "S1", "b"), Sale("S2", "c"), Return("R2", "S2", "c"))
	got := claim(t, s, base, 10)
	wantKeys(t, "first", got, "change_id=a0", "order_no=S2")
	finish(t, s, got[0], outbox.StateDelivered)
	got2 := claim(t, s, base, 10)
	wantKeys(t, "after a0", got2, "order_no=S1")
	finish(t, s, got2[0], outbox.StateDelivered)
	wantKeys(t, "after S1", claim(t, s, base, 10), "order_no=R1")
	// A dead sale no longer holds its return: the gateway judges it.
	got[1].Code = 110003
	finish(t, s, got[1], outbox.StateDead)
	wantKeys(t, "after S2 died", claim(t, s, base, 10), "order_no=R2")
}

func testBackoff(t *testing.T, open Opener) {
	s := open(t, "backoff")
	defer s.Close()
	add(t, s, Sale("A1", "a"), Sale("A2", "a"), Sale("B1", "b"))
	got := claim(t, s, base, 10)
	got[0].NextAttempt = base.Add(time.Minute)
	finish(t, s, got[0], outbox.StateQueued)
	finish(t, s, got[1], outbox.StateQueued)
	wantKeys(t, "A1 not due", claim(t, s, base.Add(30*time.Second), 10), "order_no=B1")
	wantKeys(t, "A1 due", claim(t, s, base.Add(time.Minute), 10), "order_no=A1")
}

func testLeases(t *testing.T, open Opener) {
	s := open(t, "lease")
	defer s.Close()
	add(t, s, Sale("A1", "a"))
	stranger := Sale("X", "x")
	stranger.ID, stranger.Seq, stranger.State = "999999", 999999, outbox.StateDelivered
	if err := s.Update(ctxOf(t), stranger); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Update of a job never claimed: %v, want ErrLeaseLost", err)
	}
	j := claim(t, s, base, 1)[0]
	j.State = outbox.StateSending
	if err := s.Update(ctxOf(t), j); err != nil {
		t.Fatalf("Update to sending: %v", err)
	}
	wantKeys(t, "sending holds the lease", claim(t, s, base, 1))
	finish(t, s, j, outbox.StateDelivered)
	if err := s.Update(ctxOf(t), j); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Fatalf("Update after delivery: %v, want ErrLeaseLost", err)
	}
	if st, _ := s.Stats(ctxOf(t)); st.Queued != 0 {
		t.Fatalf("Stats after delivery = %+v", st)
	}
}

func testDeadLetters(t *testing.T, open Opener) {
	s := open(t, "dead")
	defer s.Close()
	add(t, s, Sale("A1", "a"), Sale("A2", "a"))
	j := claim(t, s, base, 1)[0]
	j.Code, j.Message, j.LastError = 110003, "会员未绑定", "error 110003"
	finish(t, s, j, outbox.StateDead)
	dead, err := s.List(ctxOf(t), outbox.StateDead, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Code != 110003 || dead[0].Message != "会员未绑定" || dead[0].State != outbox.StateDead {
		t.Fatalf("dead letters = %+v", dead)
	}
	if st, _ := s.Stats(ctxOf(t)); st.Dead != 1 || st.Queued != 1 {
		t.Fatalf("Stats = %+v, want 1 queued, 1 dead", st)
	}
	a2 := claim(t, s, base, 10)
	wantKeys(t, "A2 after A1 died", a2, "order_no=A2")
	if n, err := s.Requeue(ctxOf(t), j.ID, "no-such-id"); err != nil || n != 1 {
		t.Fatalf("Requeue = %d, %v; want 1", n, err)
	}
	wantKeys(t, "A1 requeued while A2 is on its way", claim(t, s, base, 10))
	// A1 has the lower Seq: it is its member's next job again once A2's
	// lease ends.
	finish(t, s, a2[0], outbox.StateQueued)
	got := claim(t, s, base, 10)
	wantKeys(t, "requeued", got, "order_no=A1")
	if got[0].Code != 110003 || got[0].State == outbox.StateDead {
		t.Fatalf("requeued job = %+v", got[0])
	}
	if n, _ := s.Drop(ctxOf(t), got[0].ID); n != 0 {
		t.Fatalf("Drop of a queued job dropped %d", n)
	}
	finish(t, s, got[0], outbox.StateDelivered)
	if dead, _ := s.List(ctxOf(t), outbox.StateDead, 0); len(dead) != 0 {
		t.Fatalf("dead letters after retry = %v", keys(dead))
	}
}

func testRestart(t *testing.T, open Opener) {
	s := open(t, "restart")
	add(t, s, Sale("A1", "a"), Sale("B1", "b"))
	got := claim(t, s, base, 10)
	got[0].State, got[0].Resend, got[0].Attempts = outbox.StateSending, true, 1
	if err := s.Update(ctxOf(t), got[0]); err != nil {
		t.Fatal(err)
	}
	// B1 stays leased and untouched: the process dies.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, "restart")
	defer s.Close()
	again := claim(t, s, base, 10)
	wantKeys(t, "after restart", again, "order_no=A1", "order_no=B1")
	if again[0].State != outbox.StateSending || !again[0].Resend || again[0].Attempts != 1 {
		t.Fatalf("A1 after restart = %+v, want the attempt recorded", again[0])
	}
}

func testConcurrentClaims(t *testing.T, open Opener) {
	s := open(t, "concurrent")
	defer s.Close()
	const members, perMember = 8, 5
	for i := range perMember {
		for m := range members {
			add(t, s, Change(fmt.Sprintf("m%d-%d", m, i), fmt.Sprintf("m%d", m)))
		}
	}
	var (
		mu        sync.Mutex
		delivered []string
		busy      = map[string]bool{}
		failures  []string
		wg        sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 200; {
				jobs, err := s.Claim(context.Background(), base, 2)
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				if len(jobs) == 0 {
					mu.Lock()
					done := len(delivered) == members*perMember
					mu.Unlock()
					if done {
						return
					}
					idle++
					time.Sleep(time.Millisecond)
					continue
				}
				for _, j := range jobs {
					mu.Lock()
					if busy[j.Member()] {
						failures = append(failures, "two jobs of "+j.Member()+" at once")
					}
					busy[j.Member()] = true
					mu.Unlock()
					time.Sleep(100 * time.Microsecond) // "delivering"
					mu.Lock()
					busy[j.Member()] = false
					delivered = append(delivered, j.Change.ChangeID)
					mu.Unlock()
					j.State = outbox.StateDelivered
					if err := s.Update(context.Background(), j); err != nil {
						mu.Lock()
						failures = append(failures, err.Error())
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("failures: %v", failures)
	}
	if len(delivered) != members*perMember {
		t.Fatalf("delivered %d jobs, want %d", len(delivered), members*perMember)
	}
	// Per member, in order.
	next := map[int]int{}
	for _, id := range delivered {
		var m, i int
		if _, err := fmt.Sscanf(id, "m%d-%d", &m, &i); err != nil {
			t.Fatal(err)
		}
		if next[m] != i {
			t.Fatalf("member m%d: job %d delivered when %d was due (order %v)", m, i, next[m], delivered)
		}
		next[m]++
	}
}
