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
	h.history.maxCount = 3
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

// TestHistoryIsBoundedByBytes: the oldest requests go once the bodies and
// queries held pass the byte bound; a request larger than the bound alone
// is kept without its body.
func TestHistoryIsBoundedByBytes(t *testing.T) {
	h := history{maxCount: 100, maxBytes: 1000}
	body := make([]byte, 300)
	for i := range 5 {
		h.add(Request{Method: strconv.Itoa(i), Body: body})
	}
	got := h.all()
	require.Len(t, got, 3, "3 x 300 bytes fit in 1000, 4 do not")
	require.Equal(t, "2", got[0].Method)
	require.LessOrEqual(t, h.bytes, 1000)

	h.add(Request{Method: "huge", Body: make([]byte, 5000)})
	got = h.all()
	require.Equal(t, "huge", got[len(got)-1].Method)
	require.Nil(t, got[len(got)-1].Body)

	for i := range 1000 {
		h.add(Request{Method: strconv.Itoa(i), Body: body})
	}
	require.Len(t, h.all(), 3)
	require.LessOrEqual(t, len(h.reqs), 8, "forgotten requests are released, not just skipped")
	h.reset()
	require.Empty(t, h.all())
}
