package ump_test

import (
	"context"
	"errors"
	"fmt"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// A member with 100 points tries to exchange 500 for a benefit, against the
// in-process test gateway. Each change carries a fresh change_id: the key the
// gateway deduplicates on, and the handle to roll the change back if its
// outcome is unknown.
func ExampleScoreService_Change() {
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000", Score: 100})
	c := srv.Client()

	changeID := ump.NewChangeID() // keep it with the change
	res, err := c.Score.Change(context.Background(), &ump.ScoreChangeRequest{
		OpenID: openID, Score: 500, OutBizNo: "66239d2848de", OrderAmount: ump.Yuan(200, 0),
		ChangeReason: "兑换权益", ChangeEvent: ump.EventSubtract, ChangeID: changeID,
	})
	switch {
	case errors.Is(err, ump.ErrOutcomeUnknown):
		fmt.Println("unknown whether points moved; roll back with change_id", changeID)
	case errors.Is(err, ump.ErrInsufficientPoints):
		fmt.Println("not enough points")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println("statement", res.StatementID)
	}
	// Output: not enough points
}
