package umptest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

// orderBody is a 4.1 body.
func orderBody(openID, orderNo string, score int64) string {
	return js(map[string]any{"open_id": openID, "consume_date": "2024-05-01 09:00:00", "order_amount": 12.5,
		"order_no": orderNo, "order_score": score})
}

// TestLateApplyFinishesAfterTheClientHungUp: the client gives up, and the
// gateway still waits out the whole delay and applies the call.
func TestLateApplyFinishesAfterTheClientHungUp(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
	tok := srv.IssueToken().AccessToken
	id := srv.AddMember(umptest.Member{Phone: "13800000000"})
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.LateApply, Delay: 200 * time.Millisecond})
	hc := newHTTPClient(t)
	hc.Timeout = 20 * time.Millisecond
	a := sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: changeBody(id, "c1", "event_add", 7)})
	require.Error(t, a.err, "the client gave up")
	srv.Close() // waits for the handler
	require.Equal(t, int64(7), srv.Balance(id), "applied all the same")
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	require.Equal(t, umptest.LateApply, reqs[0].Fault)
	require.Zero(t, reqs[0].Code, "the late original succeeded, for nobody")
}

// TestLateOriginalAndResendApplyOnce: a late original and a resend of the
// same change_id (3.3) or order_no (4.1) meet like two writes of one unique
// key: exactly one applies, the other is refused as a duplicate.
func TestLateOriginalAndResendApplyOnce(t *testing.T) {
	for _, tc := range []struct {
		method string
		body   func(id string) string
	}{
		{"wk.user.event.score.change", func(id string) string { return changeBody(id, "c1", "event_add", 10) }},
		{"wk.user.consume.order", func(id string) string { return orderBody(id, "S1", 10) }},
	} {
		t.Run(tc.method, func(t *testing.T) {
			srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
			defer srv.Close()
			tok := srv.IssueToken().AccessToken
			id := srv.AddMember(umptest.Member{Phone: "13800000000"})
			srv.Fail(tc.method, umptest.Fault{Kind: umptest.LateApply, Delay: 300 * time.Millisecond, Times: 1})
			impatient := newHTTPClient(t)
			impatient.Timeout = 20 * time.Millisecond
			a := sendE(impatient, srv, tc.method, raw{value: tok, body: tc.body(id)})
			require.Error(t, a.err)

			resend := send(t, newHTTPClient(t), srv, tc.method, raw{value: tok, body: tc.body(id)})
			srv.Close()
			require.Equal(t, int64(10), srv.Balance(id), "applied once")
			var codes []int64
			for _, r := range srv.Requests() {
				codes = append(codes, r.Code)
			}
			require.ElementsMatch(t, []int64{0, 150002}, codes, "one applied, the other met the key")
			if !resend.success() {
				require.Equal(t, int64(150002), resend.code(), "%s", resend.body)
			}
			require.NoError(t, srv.Audit())
		})
	}
}

// TestLateApplyWithResendsUntilDefiniteAnswer is issue 13's scenario at the
// wire: a gateway applying 400 ms late, clients giving up at 150 ms and
// sending the same change again until a definite answer. Every change
// applies exactly once.
func TestLateApplyWithResendsUntilDefiniteAnswer(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
	defer srv.Close()
	tok := srv.IssueToken().AccessToken
	id := srv.AddMember(umptest.Member{Phone: "13800000000"})
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.LateApply, Delay: 400 * time.Millisecond, Times: 8})
	hc := newHTTPClient(t)
	hc.Timeout = 150 * time.Millisecond

	var wg sync.WaitGroup
	outcomes := make([]string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := changeBody(id, fmt.Sprintf("c%d", i), "event_add", 100)
			for range 50 {
				a := sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: body})
				switch {
				case a.err != nil:
					continue
				case a.success():
					outcomes[i] = "applied"
				case a.code() == 150002:
					outcomes[i] = "already applied"
				default:
					outcomes[i] = string(a.body)
				}
				return
			}
		}()
	}
	wg.Wait()
	srv.Close()
	for i, o := range outcomes {
		require.Contains(t, []string{"applied", "already applied"}, o, "change %d", i)
	}
	require.Equal(t, int64(800), srv.Balance(id), "each change once")
	require.NoError(t, srv.Audit())
}
