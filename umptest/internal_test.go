package umptest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRequestsKeepsTheNewest(t *testing.T) {
	h := NewHandler()
	h.maxRequests = 3
	for i := range 5 {
		r := httptest.NewRequest(http.MethodPost, "/gw/gateway/wk.user.level.list/v1?n="+strconv.Itoa(i), nil)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	reqs := h.Requests()
	require.Len(t, reqs, 3)
	for i, r := range reqs {
		require.Equal(t, strconv.Itoa(i+2), r.Query.Get("n"))
		require.Equal(t, int64(1003), r.Code, "no timestamp")
	}
	require.Equal(t, 5, h.Stats().Calls["wk.user.level.list"])
	h.ResetStats()
	require.Empty(t, h.Requests())
	require.Empty(t, h.Stats().Calls)
}

// TestKeyLockSerialisesOneKey: a second holder of a key waits for the
// first; another key does not; the table forgets keys nobody holds.
func TestKeyLockSerialisesOneKey(t *testing.T) {
	var k keyLocks
	unlock := k.lock("a")
	k.lock("b")() // another key is free
	got, done := make(chan struct{}), make(chan struct{})
	go func() {
		release := k.lock("a")
		close(got)
		release()
		close(done)
	}()
	select {
	case <-got:
		t.Fatal("a second holder took a held key")
	case <-time.After(50 * time.Millisecond):
	}
	unlock()
	<-done
	require.Empty(t, k.locks)
}
