package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// TestSyncBatch: the lost answer is to reconcile (and the gateway did apply
// it), the two bad lines never reach the gateway, the rest is synced; sent
// again, the batch finds the platform already has every order.
func TestSyncBatch(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	a := srv.AddMember(umptest.Member{Phone: "13800000001"})
	b := srv.AddMember(umptest.Member{Phone: "13800000002"})
	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	c := srv.Client()
	sales := todaysSales("t", []string{"13800000001", "13800000002"}, time.Now())

	var out bytes.Buffer
	r, err := syncBatch(t.Context(), c, sales, &out)
	require.NoError(t, err)
	assert.Equal(t, Report{
		Synced:    []string{"POS-t-2", "POS-t-2R"},
		Reconcile: []string{"POS-t-1"},
		Rejected: []string{
			"POS-t-3: not sent: phone must be an 11-digit mainland mobile number",
			"POS-t-4: not sent: total 19.999 is not an amount of yuan and fen",
		},
	}, r)
	assert.Equal(t, strings.Join([]string{
		"RECONCILE  POS-t-1: the answer was lost; check the platform before sending it again",
		"synced     POS-t-2: 45.00 yuan, +45 points for 138****0002",
		"rejected   POS-t-3: not sent: phone must be an 11-digit mainland mobile number",
		"rejected   POS-t-4: not sent: total 19.999 is not an amount of yuan and fen",
		"synced     POS-t-2R: 15.00 yuan, -15 points for 138****0002",
	}, "\n")+"\n", out.String())

	o, ok := srv.Order("POS-t-1")
	require.True(t, ok, "the order whose answer was lost was applied")
	assert.Equal(t, ump.Yuan(128, 50), o.Amount)
	assert.Equal(t, int64(128), srv.Balance(a))
	assert.Equal(t, int64(30), srv.Balance(b), "45 granted, 15 returned")
	_, ok = srv.Order("POS-t-3")
	assert.False(t, ok)
	calls := srv.Stats().Calls
	assert.Equal(t, 2, calls["wk.user.consume.order"], "the two bad lines were not sent")
	assert.Equal(t, 1, calls["wk.user.refund.order"])

	// The goods went as the document's JSON string, the price exact.
	var first []string
	for _, req := range srv.Requests() {
		if req.Method == "wk.user.consume.order" && strings.Contains(string(req.Body), `"POS-t-1"`) {
			first = append(first, string(req.Body))
		}
	}
	require.Len(t, first, 1)
	assert.Contains(t, first[0], `\"price\":\"128.5\"`)
	assert.Contains(t, first[0], `"order_amount":128.5`)

	// Sent again (the reconciliation a platform that deduplicates order_no
	// allows): everything is on the platform already, nothing moves twice.
	out.Reset()
	r, err = syncBatch(t.Context(), c, sales, &out)
	require.NoError(t, err)
	assert.Equal(t, []string{"POS-t-1", "POS-t-2", "POS-t-2R"}, r.Synced)
	assert.Empty(t, r.Reconcile)
	assert.Contains(t, out.String(), "synced     POS-t-1: the platform had it already")
	assert.Equal(t, int64(128), srv.Balance(a))
	assert.Equal(t, int64(30), srv.Balance(b))
	require.NoError(t, srv.Audit())
}

// TestSyncBatchRejectsWhatThePlatformRefuses: a phone without a member is
// the platform's 110003, reported and not fatal to the batch.
func TestSyncBatchRejectsWhatThePlatformRefuses(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "13800000001"})
	sales := todaysSales("u", []string{"13900000009", "13800000001"}, time.Now())
	var out bytes.Buffer
	r, err := syncBatch(t.Context(), srv.Client(), sales, &out)
	require.NoError(t, err)
	require.NotEmpty(t, r.Rejected)
	assert.True(t, strings.HasPrefix(r.Rejected[0], "POS-u-1: platform error 110003: "), r.Rejected[0])
	assert.Equal(t, []string{"POS-u-2", "POS-u-2R"}, r.Synced)
}

// TestSyncBatchStopsWhenTheGatewayIsGone: an unreachable gateway stops the
// batch with an error naming the order it stopped at.
func TestSyncBatchStopsWhenTheGatewayIsGone(t *testing.T) {
	srv := umptest.NewServer()
	srv.AddMember(umptest.Member{Phone: "13800000001"})
	c := srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}))
	srv.Close()
	var out bytes.Buffer
	r, err := syncBatch(t.Context(), c, todaysSales("v", []string{"13800000001"}, time.Now()), &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stopped at POS-v-1: ")
	assert.Empty(t, r.Synced)
	assert.Empty(t, r.Reconcile)
}

// TestRun is `go run ./examples/pos-order-sync` with no settings.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), func(string) string { return "" }, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "synced 2, to reconcile 1 [POS-001-1], rejected 2\n")
	assert.Contains(t, stdout.String(), "sandbox: the platform has POS-001-1 (order_id ")
	assert.NotContains(t, stdout.String(), "13800000001")
	assert.Empty(t, stderr.String())
}
