package ump_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// A score change whose answers are all lost cannot be settled within the
// caller's deadline. The request is persisted, and a later run (a job, after
// a restart) finishes it with Resolve: the points move exactly once.
func ExampleScoreService_Resolve() {
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000"})
	c := srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	ctx := context.Background()

	// The gateway applies every change but the answers never arrive.
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply})
	_, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{
		OpenID: openID, Score: 100, OutBizNo: "POS-0001", OrderAmount: ump.Yuan(100, 0),
		ChangeReason: "消费积分", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID(),
	})
	var unresolved *ump.ScoreChangeUnresolvedError
	if !errors.As(err, &unresolved) {
		fmt.Println("unexpected:", err)
		return
	}
	saved, _ := json.Marshal(unresolved.Request) // into the job queue

	// Later, with the network back.
	srv.ClearFaults()
	var req ump.ScoreChangeRequest
	_ = json.Unmarshal(saved, &req)
	res, err := c.Score.Resolve(ctx, &req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("it had applied:", res.AlreadyApplied)
	fmt.Println("balance:", srv.Balance(openID))
	// Output:
	// it had applied: true
	// balance: 100
}

// A sale whose answer was lost is settled by sending the same order_no
// again: the gateway's duplicate answer means the first one had applied.
func ExampleOrderService_ResolveConsume() {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "13800000000"})
	c := srv.Client()
	ctx := context.Background()
	sale := &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: "POS-0002", Phone: "13800000000", ConsumeDate: time.Now(), OrderAmount: ump.Yuan(88, 0), OrderScore: 88,
	}}

	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	_, err := c.Order.SyncConsume(ctx, sale)
	fmt.Println("outcome unknown:", errors.Is(err, ump.ErrOutcomeUnknown))

	res, err := c.Order.ResolveConsume(ctx, sale)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("it had applied:", res.AlreadyApplied)
	fmt.Println("balance:", srv.Balance("13800000000"))
	// Output:
	// outcome unknown: true
	// it had applied: true
	// balance: 88
}
