package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/umptest"
)

func newOutbox(t *testing.T) (*boltstore.Store, *outbox.Outbox) {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "outbox.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, outbox.New(s)
}

// TestRecordThenDrain: the two bad lines are refused at the checkout and
// never queued; the rest is queued with no request to the gateway, then
// delivered once each, the return after its sale, a lost answer settled.
func TestRecordThenDrain(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	a := srv.AddMember(umptest.Member{Phone: "13800000001"})
	b := srv.AddMember(umptest.Member{Phone: "13800000002"})
	store, ob := newOutbox(t)
	sales := todaysSales("t", []string{"13800000001", "13800000002"}, time.Now())

	var out bytes.Buffer
	require.NoError(t, record(t.Context(), ob, sales, &out))
	assert.Equal(t, strings.Join([]string{
		"queued     POS-t-1: 128.50 yuan, +128 points for 138****0001",
		"queued     POS-t-2: 45.00 yuan, +45 points for 138****0002",
		"rejected   POS-t-3: not queued: phone must be an 11-digit mainland mobile number",
		"rejected   POS-t-4: not queued: total 19.999 is not an amount of yuan and fen",
		"queued     POS-t-2R: 15.00 yuan, -15 points for 138****0002",
	}, "\n")+"\n", out.String())
	assert.Empty(t, srv.Stats().Calls, "recording sends nothing")

	srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	out.Reset()
	r, err := drain(t.Context(), store, srv.Client(), &out)
	require.NoError(t, err)
	assert.Equal(t, Report{Delivered: 3}, r)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	settled := 0
	for i, l := range lines {
		if s, ok := strings.CutSuffix(l, " (its lost answer settled: the platform had it)"); ok {
			lines[i] = s
			settled++
		}
	}
	assert.Equal(t, 1, settled, "one lost answer, settled")
	assert.ElementsMatch(t, []string{"delivered  order_no=POS-t-1", "delivered  order_no=POS-t-2", "delivered  order_no=POS-t-2R"}, lines)
	assert.Less(t, indexOf(lines, "delivered  order_no=POS-t-2"), indexOf(lines, "delivered  order_no=POS-t-2R"))

	o, ok := srv.Order("POS-t-1")
	require.True(t, ok)
	assert.Equal(t, ump.Yuan(128, 50), o.Amount)
	assert.Equal(t, int64(128), srv.Balance(a))
	assert.Equal(t, int64(30), srv.Balance(b), "45 granted, 15 returned")
	// The goods went as the document's JSON string, the price exact.
	var first []string
	for _, req := range srv.Requests() {
		if req.Method == "wk.user.consume.order" && strings.Contains(string(req.Body), `"POS-t-1"`) {
			first = append(first, string(req.Body))
		}
	}
	require.NotEmpty(t, first)
	for _, body := range first {
		assert.Equal(t, first[0], body, "a resend is the same request")
	}
	assert.Contains(t, first[0], `\"price\":\"128.5\"`)
	require.NoError(t, srv.Audit())
}

func indexOf(lines []string, s string) int {
	for i, l := range lines {
		if l == s {
			return i
		}
	}
	return -1
}

// TestDrainRefused: a phone without a member is the platform's 110003, kept
// as a dead letter with its code; the other sales go on.
func TestDrainRefused(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "13800000001"})
	store, ob := newOutbox(t)
	var out bytes.Buffer
	require.NoError(t, record(t.Context(), ob, todaysSales("u", []string{"13900000009", "13800000001"}, time.Now()), &out))
	out.Reset()
	r, err := drain(t.Context(), store, srv.Client(), &out)
	require.NoError(t, err)
	assert.Equal(t, Report{Delivered: 2, Refused: 1}, r)
	assert.Contains(t, out.String(), "refused    order_no=POS-u-1: platform error 110003: ")
	dead, err := ob.DeadLetters(t.Context())
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, int64(110003), dead[0].Code)
}

// TestDrainUnreachable: with the gateway gone, the drain stops and every
// sale stays queued.
func TestDrainUnreachable(t *testing.T) {
	srv := umptest.NewServer()
	srv.AddMember(umptest.Member{Phone: "13800000001"})
	c := srv.Client(ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}))
	srv.Close()
	store, ob := newOutbox(t)
	var out bytes.Buffer
	require.NoError(t, record(t.Context(), ob, todaysSales("v", []string{"13800000001"}, time.Now()), &out))
	r, err := drain(t.Context(), store, c, &out)
	require.ErrorIs(t, err, outbox.ErrUnreachable)
	assert.Equal(t, Report{Pending: 3}, r)
}

// TestRun is `go run ./examples/pos-order-sync` with no settings.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), func(string) string { return "" }, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "network down: the drain stopped, gateway unreachable; 3 still queued, nothing lost\n")
	assert.Equal(t, 1, strings.Count(stdout.String(), " (its lost answer settled: the platform had it)\n"))
	assert.Contains(t, stdout.String(), "delivered 3, refused 0, still queued 0\n")
	assert.NotContains(t, stdout.String(), "13800000001")
	assert.Empty(t, stderr.String())
}
