package umptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// A test seeds the gateway, lets the code under test call it, and reads
// the state back.
func ExampleNewServer() {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC))))
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{OpenID: "member-1", Phone: "13800000000", Score: 100})
	srv.SetBalance(openID, 250)

	_ = srv.Client() // a *ump.Client for the server's app, on its clock: hand it to the code under test

	m, _ := srv.Member("13800000000")
	fmt.Println(m.OpenID, m.Nickname, srv.Balance(openID))
	for _, st := range srv.Ledger(openID) {
		fmt.Println(st.Kind, st.Delta)
	}
	fmt.Println(srv.Audit())
	// Output:
	// member-1 会员0000 250
	// adjust 100
	// adjust 150
	// <nil>
}

// LateApply is a gateway that finishes the work after the client gave up.
// A resend under the same change_id meets the late original as two writes
// of one unique key meet: one applies, the other is refused as a duplicate
// (150002; usually the resend, which waits for the original's key). The
// points move once.
func ExampleFaultKind_lateApply() {
	clock := umptest.NewClock(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC))
	srv := umptest.NewServer(umptest.WithClock(clock))
	openID := srv.AddMember(umptest.Member{Phone: "13800000000"})
	token := srv.IssueToken().AccessToken
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.LateApply, Delay: 200 * time.Millisecond, Times: 1})

	body := []byte(`{"open_id":"` + openID + `","score":100,"out_biz_no":"T-1","order_amount":0,` +
		`"change_reason":"goodwill","change_event":"event_add","change_id":"chg-1"}`)
	// send returns "no answer", "applied" or the refusal's code.
	send := func(timeout time.Duration) string {
		q := url.Values{"access_token": {token}, "timestamp": {strconv.FormatInt(clock.Now().UnixMilli(), 10)}}
		q.Set("sign", ump.Sign(q, body, srv.AppSecret))
		hc := &http.Client{Timeout: timeout}
		resp, err := hc.Post(srv.URL+"/gw/gateway/wk.user.event.score.change/v1?"+q.Encode(), "application/json", bytes.NewReader(body))
		if err != nil {
			return "no answer"
		}
		defer resp.Body.Close()
		var answer struct {
			Success bool  `json:"success"`
			Code    int64 `json:"error_code"`
		}
		if json.NewDecoder(resp.Body).Decode(&answer) != nil {
			return "unreadable"
		}
		if answer.Success {
			return "applied"
		}
		return strconv.FormatInt(answer.Code, 10)
	}

	fmt.Println("first attempt:", send(20*time.Millisecond))
	resend := send(5 * time.Second)
	fmt.Println("resend definite:", resend == "applied" || resend == "150002")
	srv.Close() // waits for the late original
	fmt.Println("balance:", srv.Balance(openID), "statements:", len(srv.Ledger(openID)))
	// Output:
	// first attempt: no answer
	// resend definite: true
	// balance: 100 statements: 1
}
