package outbox_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/umptest"
)

// A till records a sale while offline, then drains its outbox when the
// gateway answers again.
func Example() {
	ctx := context.Background()
	srv := umptest.NewServer() // stands in for the platform
	defer srv.Close()
	member := srv.AddMember(umptest.Member{Phone: "13800000001"})

	dir, err := os.MkdirTemp("", "till")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	store, err := boltstore.Open(filepath.Join(dir, "outbox.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ob := outbox.New(store)

	// At the checkout: stored on disk, nothing sent.
	job, err := ob.EnqueueConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: "POS-1", OpenID: member, ConsumeDate: time.Now(), OrderAmount: ump.Yuan(128, 50), OrderScore: 128}})
	if err != nil {
		panic(err) // not queued: tell the cashier
	}
	pending, _ := ob.Pending(ctx)
	fmt.Println("queued", job.Key(), "pending", pending)

	// Later, online: deliver everything queued.
	d := outbox.NewDrainer(store, srv.Client())
	st, err := d.DrainOnce(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println("delivered", st.Delivered, "balance", srv.Balance(member))
	// Output:
	// queued order_no=POS-1 pending 1
	// delivered 1 balance 128
}

// A job engine's worker (River, asynq, a Kubernetes job) delivering an
// outbox job: the engine keeps the job and counts its attempts; every
// attempt after the first resends under the same order_no.
func ExampleDeliver() {
	ctx := context.Background()
	srv := umptest.NewServer()
	defer srv.Close()
	member := srv.AddMember(umptest.Member{Phone: "13800000001"})
	// The platform applies the first send but its answer is lost.
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	client := srv.Client()

	job := &outbox.Job{Kind: outbox.KindConsume, Consume: &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: "POS-7", OpenID: member, ConsumeDate: time.Now(), OrderAmount: ump.Yuan(20, 0), OrderScore: 20}}}
	for attempt := 1; attempt <= 3; attempt++ {
		job.Resend = attempt > 1 // with River: riverJob.Attempt > 1
		receipt, err := outbox.Deliver(ctx, client, job)
		if err != nil {
			fmt.Printf("attempt %d failed, try again later: %v\n", attempt, ump.Retryable(err))
			continue
		}
		fmt.Printf("attempt %d delivered, applied earlier: %v\n", attempt, receipt.AlreadyApplied)
		break
	}
	fmt.Println("balance", srv.Balance(member))
	// Output:
	// attempt 1 failed, try again later: true
	// attempt 2 delivered, applied earlier: true
	// balance 20
}
