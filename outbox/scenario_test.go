package outbox_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/outbox"
	tokenredis "github.com/greedc/ump-go/tokenstore/redisstore"
	"github.com/greedc/ump-go/umptest"
)

func redisTokens(rdb *redis.Client) ump.TokenStore { return tokenredis.New(rdb) }

// day is a till's day offline: sales, returns of some of them, and score
// changes, for members of the gateway, with what each should come to.
type day struct {
	members []string // open_ids
	opening int64    // each member's balance before the day
	sales   []*ump.ConsumeOrderRequest
	returns []*ump.RefundOrderRequest
	changes []*ump.ScoreChangeRequest
	// changeIDs are the change_ids the jobs were given (generated at
	// enqueue for the changes that had none).
	changeIDs map[string]string // out_biz_no -> change_id
}

// newDay adds the members to srv and makes sales sales, returns returns and
// changes changes, interleaved as a till would record them.
func newDay(srv *umptest.Server, members, sales, returns, changes int) *day {
	d := &day{opening: 1000, changeIDs: map[string]string{}}
	for i := range members {
		id := srv.AddMember(umptest.Member{Phone: fmt.Sprintf("139%08d", i+1), Score: d.opening})
		d.members = append(d.members, id)
	}
	at := time.Now().Add(-time.Hour)
	for i := range sales {
		d.sales = append(d.sales, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
			OrderNo: fmt.Sprintf("S%04d", i), OpenID: d.members[i%members], ConsumeDate: at,
			OrderAmount: ump.Yuan(int64(10+i%90), 50), OrderScore: int64(10 + i%90)}})
	}
	// Every fifth sale is partly returned.
	for i := range returns {
		s := d.sales[(i*5)%sales]
		d.returns = append(d.returns, &ump.RefundOrderRequest{ParentOrderNo: s.OrderNo, OrderDetails: ump.OrderDetails{
			OrderNo: "R" + s.OrderNo[1:], OpenID: s.OpenID, ConsumeDate: at,
			OrderAmount: ump.Yuan(5, 0), OrderScore: 5}})
	}
	for i := range changes {
		d.changes = append(d.changes, &ump.ScoreChangeRequest{OpenID: d.members[(i*7)%members], Score: int64(1 + i%20),
			OutBizNo: fmt.Sprintf("C%04d", i), OrderAmount: 0, ChangeReason: "活动奖励", ChangeEvent: ump.EventAdd})
	}
	return d
}

// enqueue records the day through ob, in till order: a return comes some
// sales after its sale, a change every third sale.
func (d *day) enqueue(t *testing.T, ob *outbox.Outbox) {
	t.Helper()
	ctx := t.Context()
	r, c := 0, 0
	for i, s := range d.sales {
		_, err := ob.EnqueueConsume(ctx, s)
		require.NoError(t, err)
		for r < len(d.returns) && (r*5)%len(d.sales)+3 <= i {
			_, err := ob.EnqueueRefund(ctx, d.returns[r])
			require.NoError(t, err)
			r++
		}
		if i%3 == 0 && c < len(d.changes) {
			d.enqueueChange(t, ob, d.changes[c])
			c++
		}
	}
	for ; r < len(d.returns); r++ {
		_, err := ob.EnqueueRefund(ctx, d.returns[r])
		require.NoError(t, err)
	}
	for ; c < len(d.changes); c++ {
		d.enqueueChange(t, ob, d.changes[c])
	}
}

func (d *day) enqueueChange(t *testing.T, ob *outbox.Outbox, req *ump.ScoreChangeRequest) {
	j, err := ob.EnqueueScoreChange(t.Context(), req)
	require.NoError(t, err)
	require.NotEmpty(t, j.Change.ChangeID)
	d.changeIDs[req.OutBizNo] = j.Change.ChangeID
}

func (d *day) jobs() int { return len(d.sales) + len(d.returns) + len(d.changes) }

// verify checks the gateway against the day: each order_no booked once,
// each return after its sale, each change standing once under one
// change_id, every balance exact.
func (d *day) verify(t *testing.T, srv *umptest.Server) {
	t.Helper()
	want := map[string]int64{}
	for _, m := range d.members {
		want[m] = d.opening
	}
	for _, s := range d.sales {
		want[s.OpenID] += s.OrderScore
	}
	for _, r := range d.returns {
		want[r.OpenID] -= r.OrderScore
	}
	changeScore := map[string]int64{}
	for _, c := range d.changes {
		want[c.OpenID] += c.Score
		changeScore[c.OutBizNo] = c.Score
	}

	booked := map[string]int{}        // order_no -> statements
	position := map[string]int{}      // order_no -> index in its member's ledger
	standing := map[string][]string{} // out_biz_no -> change_ids of changes not reversed
	reversed := map[string]bool{}
	for _, m := range d.members {
		for _, st := range srv.Ledger(m) {
			if st.Kind == umptest.KindRollback {
				reversed[st.Reverses] = true
			}
		}
	}
	for _, m := range d.members {
		for i, st := range srv.Ledger(m) {
			switch st.Kind {
			case umptest.KindOrder, umptest.KindRefund:
				booked[st.OrderNo]++
				position[st.OrderNo] = i
			case umptest.KindChange:
				if !reversed[st.ID] {
					standing[st.OrderNo] = append(standing[st.OrderNo], st.ChangeID)
				}
			}
		}
		assert.Equal(t, want[m], srv.Balance(m), "balance of %s", m)
	}
	for _, s := range d.sales {
		assert.Equal(t, 1, booked[s.OrderNo], "sale %s booked", s.OrderNo)
	}
	for _, r := range d.returns {
		assert.Equal(t, 1, booked[r.OrderNo], "return %s booked", r.OrderNo)
		assert.Greater(t, position[r.OrderNo], position[r.ParentOrderNo], "return %s after its sale", r.OrderNo)
	}
	seen := map[string]bool{}
	for no := range changeScore {
		if assert.Len(t, standing[no], 1, "change %s stands once", no) {
			id := standing[no][0]
			assert.Equal(t, d.changeIDs[no], id, "change %s applied under the change_id fixed at enqueue", no)
			assert.False(t, seen[id], "change_id %s used twice", id)
			seen[id] = true
		}
	}
	require.NoError(t, srv.Audit())
}
