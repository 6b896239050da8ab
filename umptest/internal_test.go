package umptest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go"
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

// TestOddAndHugeAnswersStayJSON: the shape faults keep the answer valid
// JSON, the document's bare {} of 6.1 included.
func TestOddAndHugeAnswersStayJSON(t *testing.T) {
	require.JSONEq(t, `{"data":[1.5,"two",{"three":null}]}`, string(oddData([]byte(`{}`))))
	require.JSONEq(t, `{"success":true,"data":{"unexpected":[1.5,"two"]}}`, string(oddData([]byte(`{"success":true,"data":[1]}`))))

	h := NewHandler(WithClock(NewClock(time.Date(2024, 5, 1, 2, 0, 0, 0, time.UTC))))
	tok := h.IssueToken().AccessToken
	h.Fail(AnyMethod, Fault{Kind: HugeAnswer, Size: 10})
	body := `{"target":"13888888888"}`
	q := url.Values{"access_token": {tok}, "timestamp": {strconv.FormatInt(h.Clock().Now().UnixMilli(), 10)}}
	q.Set("sign", ump.Sign(q, []byte(body), DefaultAppSecret))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/gw/gateway/wk.sms.verify.send/v1?"+q.Encode(), strings.NewReader(body)))
	require.Equal(t, `{"padding":"xxxxxxxxxx"}`, w.Body.String(), "6.1's {} padded")

	h.ClearFaults()
	h.Fail(AnyMethod, Fault{Kind: HugeAnswer})
	q.Set("timestamp", strconv.FormatInt(h.Clock().Now().UnixMilli(), 10))
	body = `{"page_no":1}`
	q.Set("sign", ump.Sign(q, []byte(body), DefaultAppSecret))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/gw/gateway/wk.user.level.list/v1?"+q.Encode(), strings.NewReader(body)))
	require.Greater(t, w.Body.Len(), 5<<20, "5 MiB by default")
	require.True(t, strings.HasPrefix(w.Body.String(), `{"padding":"xxx`))
	require.True(t, strings.HasSuffix(w.Body.String(), `"totalCount":7}`), "then the answer")
}
