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
// gateway deduplicates on. A lost answer is resolved by the SDK itself (see
// ScoreService.Change); only if that cannot finish in time does the error
// carry the request for Score.Resolve.
func ExampleScoreService_Change() {
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000", Score: 100})
	c := srv.Client()

	changeID := ump.NewChangeID() // keep it with the change: the gateway deduplicates on it
	res, err := c.Score.Change(context.Background(), &ump.ScoreChangeRequest{
		OpenID: openID, Score: 500, OutBizNo: "66239d2848de", OrderAmount: ump.Yuan(200, 0),
		ChangeReason: "兑换权益", ChangeEvent: ump.EventSubtract, ChangeID: changeID,
	})
	var unresolved *ump.ScoreChangeUnresolvedError
	switch {
	case errors.As(err, &unresolved):
		// The SDK could not settle a lost answer in time: persist
		// unresolved.Request (it is JSON) and run c.Score.Resolve with it
		// later. Never send the change again yourself.
		fmt.Println("outcome unknown; resolve change_id", unresolved.Request.ChangeID, "later")
	case errors.Is(err, ump.ErrInsufficientPoints):
		fmt.Println("not enough points")
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println("statement", res.StatementID) // res.ChangeID is the change_id that applied
	}
	// Output: not enough points
}
