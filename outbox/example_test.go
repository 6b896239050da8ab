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
