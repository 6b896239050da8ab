package ump

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lateLedger is a gateway's score ledger that deduplicates on change_id, as
// 3.3 promises. The first copy of each change is applied late: the gateway
// holds it (a lock wait, a pause) for delay, whether or not the client is
// still waiting, then applies it and answers into the void. Copies sent
// after it are handled at once.
type lateLedger struct {
	delay time.Duration

	mu      sync.Mutex
	balance int64
	seen    map[string]bool // change_ids that arrived
	applied map[string]bool // change_ids that applied
}

func (l *lateLedger) apply(id string, score int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.applied[id] {
		return false
	}
	l.applied[id] = true
	l.balance += score
	return true
}

func (l *lateLedger) serve(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ChangeID string `json:"change_id"`
		Score    int64  `json:"score"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	first := !l.seen[in.ChangeID]
	l.seen[in.ChangeID] = true
	l.mu.Unlock()
	if first {
		time.Sleep(l.delay) // not cut short when the client gives up
	}
	if l.apply(in.ChangeID, in.Score) {
		_, _ = fmt.Fprintf(w, `{"success":true,"error_code":200,"data":{"statement_id":"SP-%s"}}`, in.ChangeID)
		return
	}
	_, _ = fmt.Fprint(w, `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`)
}

// A gateway that applies each change 400 ms late while the client gives up
// at 150 ms: the change is resent under its change_id, so the late copy and
// the resend apply once between them. Eight changes of 100 points: the
// balance is exactly +800 once every unknown outcome is resolved, whether
// Change settled it (four with retries) or Resolve did later (four without).
func TestLateApplyingGatewayAppliesEachChangeOnce(t *testing.T) {
	ledger := &lateLedger{delay: 400 * time.Millisecond, seen: map[string]bool{}, applied: map[string]bool{}}
	retrying, g := setup(t, WithTimeout(150*time.Millisecond),
		WithRetry(RetryPolicy{MaxAttempts: 5, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
	g.handle(epScoreChange.method, ledger.serve)
	once, err := NewClient(testAppID, testAppSecret, WithBaseURL(g.server.URL), WithTokenStore(retrying.Auth.store),
		WithTimeout(150*time.Millisecond), WithRetry(RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)

	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		unresolved []ScoreChangeRequest
		results    []*ScoreChangeResult
	)
	for i := range 8 {
		c := retrying
		if i%2 == 1 {
			c = once
		}
		req := validChange()
		req.ChangeID, req.OutBizNo = NewChangeID(), fmt.Sprintf("LATE-%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Score.Change(t.Context(), req)
			mu.Lock()
			defer mu.Unlock()
			var u *ScoreChangeUnresolvedError
			switch {
			case err == nil:
				results = append(results, res)
			case errors.As(err, &u):
				unresolved = append(unresolved, u.Request)
			default:
				t.Errorf("change %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	require.Len(t, unresolved, 4, "a single attempt that times out leaves the outcome unknown")
	require.Len(t, results, 4, "a resend settles it")
	for _, r := range unresolved {
		res, err := retrying.Score.Resolve(t.Context(), &r)
		require.NoError(t, err)
		require.Equal(t, r.ChangeID, res.ChangeID)
		results = append(results, res)
	}
	// The test reads the books once the late copies landed: Close waits
	// for the requests in flight.
	g.server.Close()
	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	require.Equal(t, int64(800), ledger.balance)
	require.Len(t, ledger.applied, 8)
	for _, c := range g.calls() {
		require.Equal(t, epScoreChange.method, c.Method, "nothing but changes: no rollback")
	}
}
