package umptest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

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
