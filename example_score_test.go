package ump_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	ump "github.com/greedc/ump-go"
)

// A score change, against a stand-in for the gateway that answers the token
// call and the change with the document's examples.
func ExampleScoreService_Change() {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gw/gateway/dss.auth.token.query/v1":
			_, _ = io.WriteString(w, `{"success":true,"error_code":200,"data":`+
				`{"access_token":"B1ABA5C50C41C5FEE3E911EC8020C32C","refresh_token":"5ED02D25F23917092218565B9DDAF657","expire_in":7200}}`)
		case "/gw/gateway/wk.user.event.score.change/v1":
			_, _ = io.WriteString(w, `{"success":true,"error_code":200,"error_message":"","data":{"statement_id":"SP016244316351097643"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer gw.Close()

	c, err := ump.NewClient("wkb1ag2hdad7e6jw1r", "app-secret", ump.WithBaseURL(gw.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	changeID := ump.NewChangeID() // keep it with the change: the gateway deduplicates on it
	res, err := c.Score.Change(context.Background(), &ump.ScoreChangeRequest{
		OpenID:       "25c56912e05847c0b09f03ca7e52b796",
		Score:        100,
		OutBizNo:     "66239d2848de",
		OrderAmount:  ump.Yuan(200, 0),
		ChangeReason: "兑换权益",
		ChangeEvent:  ump.EventAdd,
		ChangeID:     changeID,
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
	// Output: statement SP016244316351097643
}
