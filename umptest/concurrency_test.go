package umptest_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

// TestLedgerStaysConsistentUnder64Clients has 64 clients change, repeat and
// roll back points on a few members at once, then checks that each balance
// is the sum of its statements and that every answered success, and only
// those, left a statement.
func TestLedgerStaysConsistentUnder64Clients(t *testing.T) {
	const clients, perClient = 64, 6
	srv := umptest.NewServer()
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	members := make([]string, 4)
	for i := range members {
		members[i] = srv.AddMember(umptest.Member{Phone: fmt.Sprintf("1380000000%d", i), Score: 40})
	}

	type tally struct {
		changes, rollbacks int
	}
	var mu sync.Mutex
	got := map[string]*tally{}
	for _, id := range members {
		got[id] = &tally{}
	}
	var wg sync.WaitGroup
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				id := members[(g+i)%len(members)]
				event := "event_add"
				if (g+i)%2 == 1 {
					event = "event_subtract" // may find too few points: 150003
				}
				changeID := fmt.Sprintf("g%d-%d", g, i)
				points := int64(1 + (g*7+i)%15)
				body := changeBody(id, changeID, event, points)
				a := sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: body})
				if a.err != nil {
					t.Errorf("%s: %v", changeID, a.err)
					return
				}
				applied := a.success()
				// A repeat of an applied change_id never applies twice; a
				// refused change (150003) leaves its change_id free, so
				// its repeat may succeed once others added points.
				dup := sendE(hc, srv, "wk.user.event.score.change", raw{value: tok, body: body})
				if applied && dup.code() != 150002 {
					t.Errorf("%s: repeat of an applied change: %s", changeID, dup.body)
				}
				applied = applied || dup.success()
				// Every third change is resolved by change_id alone, as
				// after a lost answer.
				rolled := false
				if i%3 == 0 {
					rb := sendE(hc, srv, "wk.user.event.score.rollback", raw{value: tok, body: js(map[string]any{"open_id": id, "change_id": changeID, "rollback_score": points})})
					rolled = rb.success()
					if !applied && rb.code() != 150004 {
						t.Errorf("%s: rollback of a change never made: %s", changeID, rb.body)
					}
				}
				mu.Lock()
				if applied {
					got[id].changes++
				}
				if rolled {
					got[id].rollbacks++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	require.NoError(t, srv.Audit())
	for _, id := range members {
		var sum int64
		kinds := map[string]int{}
		for _, st := range srv.Ledger(id) {
			sum += st.Delta
			kinds[st.Kind]++
		}
		require.Equal(t, srv.Balance(id), sum, "balance is the sum of the ledger")
		require.GreaterOrEqual(t, srv.Balance(id), int64(0))
		require.Equal(t, got[id].changes, kinds[umptest.KindChange], "one statement per applied change")
		require.Equal(t, got[id].rollbacks, kinds[umptest.KindRollback])
	}
	require.Equal(t, clients*perClient*2+countRollbacks(clients, perClient), srv.Stats().Calls["wk.user.event.score.change"]+srv.Stats().Calls["wk.user.event.score.rollback"])
}

func countRollbacks(clients, perClient int) int {
	n := 0
	for range clients {
		for i := range perClient {
			if i%3 == 0 {
				n++
			}
		}
	}
	return n
}
