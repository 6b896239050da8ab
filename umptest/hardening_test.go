package umptest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

// TestHistoryKeepsBodiesOnlyOfAuthenticatedRequests: a stranger's body
// (no token, a bad sign, a stale timestamp) is not kept; a caller's is,
// refused by the platform or not, faulted or not.
func TestHistoryKeepsBodiesOnlyOfAuthenticatedRequests(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	body := js(map[string]any{"open_id": "nobody"})
	send(t, hc, srv, "wk.user.info.query", raw{value: "stranger", body: body})
	send(t, hc, srv, "wk.user.info.query", raw{value: tok, body: body, secret: "wrong"})
	send(t, hc, srv, "wk.user.info.query", raw{value: tok, body: body, at: t0.Add(-10e9)})
	srv.Fail("wk.user.info.query", umptest.Fault{Kind: umptest.HTTPStatus, Times: 1})
	send(t, hc, srv, "wk.user.info.query", raw{value: "stranger", body: body})
	srv.Fail("wk.user.info.query", umptest.Fault{Kind: umptest.HTTPStatus, Times: 1})
	send(t, hc, srv, "wk.user.info.query", raw{value: tok, body: body})
	send(t, hc, srv, "wk.user.info.query", raw{value: tok, body: body})

	var kept []bool
	for _, r := range srv.Requests() {
		kept = append(kept, r.Body != nil)
	}
	require.Equal(t, []bool{false, false, false, false, true, true}, kept)
	require.Equal(t, body, string(srv.Requests()[5].Body))
}

// TestOversizeAndMalformedRequestsGetAClearAnswer.
func TestOversizeAndMalformedRequestsGetAClearAnswer(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)), umptest.WithMaxBodyBytes(1000))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	a := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: `{"x":"` + strings.Repeat("a", 1000) + `"}`})
	require.Equal(t, http.StatusRequestEntityTooLarge, a.status)
	require.Equal(t, "request body too large: the limit is 1000 bytes\n", string(a.body))
	a = send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: `{"x":"` + strings.Repeat("a", 900) + `"}`})
	require.True(t, a.success(), "%s", a.body)

	resp, err := hc.Post(srv.URL+"/gw/gateway/wk.user.level.list/v1?timestamp=%zz", "application/json", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	msg := make([]byte, 100)
	n, _ := resp.Body.Read(msg)
	require.Contains(t, string(msg[:n]), "malformed query")
	require.NotEmpty(t, resp.Header.Get("Date"))
}
