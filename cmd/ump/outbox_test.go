package main

import (
	"context"
	"os"
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

// tillFile enqueues jobs into a new bolt outbox, as a till's process would,
// and closes it for the command.
func tillFile(t *testing.T, enqueue func(ob *outbox.Outbox)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "till.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	enqueue(outbox.New(s, outbox.WithClock(func() time.Time { return t0 })))
	require.NoError(t, s.Close())
	return path
}

func sale(no, phone string, score int64) *ump.ConsumeOrderRequest {
	return &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: no, Phone: phone, ConsumeDate: t0,
		OrderAmount: ump.Yuan(score, 0), OrderScore: score}}
}

// TestOutboxDeadLetterRetry: a sale for a phone with no member is refused
// (110003) and lands in the dead letters with its code; once the member
// exists, "outbox retry" delivers it.
func TestOutboxDeadLetterRetry(t *testing.T) {
	w := newWorld(t)
	known := w.srv.AddMember(umptest.Member{Phone: "13800000001"})
	path := tillFile(t, func(ob *outbox.Outbox) {
		ctx := context.Background()
		_, err := ob.EnqueueConsume(ctx, sale("T-1", "13800000001", 30))
		require.NoError(t, err)
		_, err = ob.EnqueueConsume(ctx, sale("T-2", "13900000002", 50)) // no such member yet
		require.NoError(t, err)
		_, err = ob.EnqueueScoreChange(ctx, &ump.ScoreChangeRequest{OpenID: known, Score: 5, OutBizNo: "T-1",
			ChangeReason: "开业礼", ChangeEvent: ump.EventAdd})
		require.NoError(t, err)
	})
	store := "--store=bolt:" + path

	r := w.run(t, "outbox", "status", store).ok(t)
	var st statusView
	decodeJSON(t, r.stdout, &st)
	assert.Equal(t, 3, st.Pending)
	assert.Equal(t, "2025-03-14T10:00:00+08:00", st.Oldest.Format(time.RFC3339))

	r = w.run(t, "outbox", "drain", store, "--progress=lines")
	assert.Equal(t, exitFailed, r.code, r.stderr)
	var sum drainSummary
	decodeJSON(t, r.stdout, &sum)
	assert.Equal(t, 2, sum.Delivered)
	assert.Equal(t, 1, sum.Dead)
	assert.Equal(t, 0, sum.Pending)
	assert.Contains(t, r.stderr, "delivered  1 order_no=T-1\n")
	assert.Contains(t, r.stderr, "dead       2 order_no=T-2: wk.user.consume.order: error 110003")
	assert.Contains(t, r.stderr, `1 job(s) refused by the platform: see "ump outbox dead"`)
	assert.NotContains(t, r.stdout+r.stderr, "13900000002", "phones are masked")

	r = w.run(t, "outbox", "dead", store).ok(t)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	assert.Regexp(t, `^ID\s+KIND\s+KEY\s+MEMBER\s+ATTEMPTS\s+CODE\s+MESSAGE$`, lines[0])
	assert.Regexp(t, `^2\s+consume\s+order_no=T-2\s+139\*\*\*\*0002\s+1\s+110003\s+\S`, lines[1])

	r = w.run(t, "outbox", "dead", store, "-o", "json").ok(t)
	var dead listView[jobView]
	decodeJSON(t, r.stdout, &dead)
	require.Len(t, dead.Items, 1)
	assert.Equal(t, int64(110003), dead.Items[0].Code)
	assert.Equal(t, "dead", dead.Items[0].State)

	// Retrying before the cause is fixed refuses again.
	r = w.run(t, "outbox", "retry", store, "2", "--progress=none")
	assert.Equal(t, exitFailed, r.code)
	_, ok := w.srv.Order("T-2")
	assert.False(t, ok)

	w.srv.AddMember(umptest.Member{Phone: "13900000002"})
	r = w.run(t, "outbox", "retry", store, "--all", "--progress=lines").ok(t)
	assert.Contains(t, r.stderr, "queued again: 1 of 1\n")
	assert.Contains(t, r.stderr, "delivered  2 order_no=T-2\n")
	decodeJSON(t, r.stdout, &sum)
	assert.Equal(t, drainSummary{Delivered: 1, Elapsed: sum.Elapsed}, sum)
	o, ok := w.srv.Order("T-2")
	require.True(t, ok)
	assert.Equal(t, int64(50), o.Score)
	assert.Equal(t, int64(35), w.srv.Balance(known))

	r = w.run(t, "outbox", "status", store, "-o", "table").ok(t)
	assert.Regexp(t, `(?m)^pending\s+0$`, r.stdout)
	assert.Regexp(t, `(?m)^dead\s+0$`, r.stdout)
	require.NoError(t, w.srv.Audit())
}

// TestOutboxDrop: drop deletes a dead letter; list shows the pending.
func TestOutboxDrop(t *testing.T) {
	w := newWorld(t)
	path := tillFile(t, func(ob *outbox.Outbox) {
		_, err := ob.EnqueueConsume(context.Background(), sale("T-9", "13900000009", 9))
		require.NoError(t, err)
	})
	store := "--store=bolt:" + path
	r := w.run(t, "outbox", "list", store).ok(t)
	assert.Regexp(t, `(?m)^1\s+consume\s+order_no=T-9\s+139\*\*\*\*0009\s+2025-03-14 10:00:00\s+0\s*$`, r.stdout)
	assert.Equal(t, exitFailed, w.run(t, "outbox", "drain", store, "--progress=none").code)
	assert.Equal(t, exitUsage, w.run(t, "outbox", "drop", store).code, "drop needs ids or --all")
	r = w.run(t, "outbox", "drop", store, "1").ok(t)
	assert.Contains(t, r.stderr, "dropped: 1 of 1")
	r = w.run(t, "outbox", "status", store).ok(t)
	var st statusView
	decodeJSON(t, r.stdout, &st)
	assert.Equal(t, statusView{}, st)
}

// TestOutboxExportDamaged: export salvages the jobs of a damaged file and
// import queues them in a new one.
func TestOutboxExportDamaged(t *testing.T) {
	w := newWorld(t)
	path := tillFile(t, func(ob *outbox.Outbox) {
		for _, no := range []string{"E-1", "E-2", "E-3"} {
			_, err := ob.EnqueueConsume(context.Background(), sale(no, "13800000001", 1))
			require.NoError(t, err)
		}
	})
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := 16; i < 8192; i += 32 {
		data[i] ^= 0xff
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))

	r := w.run(t, "outbox", "status", "--store=bolt:"+path)
	assert.Equal(t, exitFailed, r.code)
	assert.Contains(t, r.stderr, path)
	assert.Contains(t, r.stderr, "corrupt")

	r = w.run(t, "outbox", "export", "--store=bolt:"+path).ok(t)
	assert.Contains(t, r.stderr, "salvaged 3 job(s)")
	assert.Equal(t, 3, strings.Count(r.stdout, "\n"))

	fresh := filepath.Join(t.TempDir(), "new.db")
	r = runWith(t, w.env, w.clock.Now, r.stdout, "outbox", "import", "--store=bolt:"+fresh).ok(t)
	assert.Contains(t, r.stderr, "imported 3 job(s)")
	r = w.run(t, "outbox", "list", "--store=bolt:"+fresh, "-o", "json").ok(t)
	var list listView[jobView]
	decodeJSON(t, r.stdout, &list)
	require.Len(t, list.Items, 3)
	assert.True(t, list.Items[0].Resend, "a salvaged job is settled under its key")
}

// TestOutboxUsage: without a store, or with an unknown one, nothing runs.
func TestOutboxUsage(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "outbox", "status")
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "no outbox: set --store or UMP_OUTBOX_STORE")
	r = w.run(t, "outbox", "status", "--store=s3://bucket")
	assert.Equal(t, exitUsage, r.code)
	r = w.run(t, "outbox", "export", "--store=redis://localhost:6379/0")
	assert.Equal(t, exitUsage, r.code)
}
