package ump

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRawSendsTheBodyThroughTheSharedPath(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.level.list", `{"success":true,"error_code":null,"data":[{"id":3733288246799497770}],"pageNo":2,"pageSize":1,"totalCount":7}`)
	a, err := c.Raw(context.Background(), "wk.user.level.list", json.RawMessage(`{"page_no": 2, "q": "<&>"}`))
	require.NoError(t, err)
	require.JSONEq(t, `[{"id":3733288246799497770}]`, string(a.Data))
	require.Contains(t, string(a.Data), "3733288246799497770", "data kept verbatim, not through float64")
	require.Equal(t, RawAnswer{Data: a.Data, PageNo: 2, PageSize: 1, TotalCount: 7}, *a)
	require.Equal(t, `{"page_no":2,"q":"<&>"}`, string(g.calls()[0].Body), "compacted, not HTML-escaped")

	_, err = c.Raw(context.Background(), "wk.user.level.list", nil)
	require.NoError(t, err)
	require.Empty(t, g.calls()[1].Body, "no body sent for an empty one")
}

func TestRawReturnsAPIErrors(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.query", `{"success":false,"errorCode":110003,"errorMessage":"会员未绑定"}`)
	_, err := c.Raw(context.Background(), "wk.user.info.query", json.RawMessage(`{"phone":"13800000000"}`))
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, int64(110003), apiErr.Code)
	require.ErrorIs(t, err, ErrMemberNotBound)
}

func TestRawNeverRepeatsAnAmbiguousCall(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.event.score.change", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	_, err := c.Raw(context.Background(), "wk.user.event.score.change", json.RawMessage(`{}`))
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.Len(t, g.calls(), 1)
}

func TestRawValidates(t *testing.T) {
	c, g := setup(t)
	for _, m := range []string{"", "wk/../x", "a?b=1", ".wk"} {
		_, err := c.Raw(context.Background(), m, nil)
		requireValidation(t, err, "Raw", "method")
	}
	_, err := c.Raw(context.Background(), "dss.auth.token.query", json.RawMessage(`{`))
	requireValidation(t, err, "dss.auth.token.query", "method", "body")
	require.Empty(t, g.calls(), "nothing sent")
}
