package ump

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A rejection that a new token does not cure (a proxy's 401, a code set with
// WithTokenInvalidCodes that is not about the token) must not spend one of
// the day's 20 refreshes per call: the token a recovery produced is not
// refreshed again while it is young.
func TestRejectionsANewTokenDoesNotCureSpendOneRefresh(t *testing.T) {
	c, m := mockSetup(t, nil)
	m.route(epWrite.method, func(wireReq, int) (*http.Response, error) {
		return jsonResponse(http.StatusUnauthorized, `{"success":false,"error_message":"unauthorized"}`), nil
	})
	for range 25 {
		_, _, err := call[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"})
		require.ErrorIs(t, err, ErrTokenInvalid)
	}
	require.Equal(t, 1, m.count(epRefresh.method), "refreshes after 25 rejected calls")
	st, err := c.Auth.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, st.Refreshes)
}

// The gateway applied a score change but answered with data of a shape the
// SDK does not expect: the change applied, so Change must neither report a
// definite failure, which would invite a resend under a new change_id, nor
// a result of zeros: ErrAppliedUnreadable says both.
func TestAppliedChangeWithUnreadableDataIsNotAFailure(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.event.score.change", `{"success":true,"error_code":200,"error_message":"","data":"SP016244316351097643"}`)
	res, err := c.Score.Change(context.Background(), validChange())
	require.ErrorIs(t, err, ErrAppliedUnreadable, "applied, and said so: not zeros read as a result")
	require.Equal(t, &ScoreChangeResult{ChangeID: validChange().ChangeID}, res, "applied: the result holds what decoded")
	require.Contains(t, err.Error(), "the call was applied, but its answer could not be read")
	require.False(t, Retryable(err), "do not send it again")
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Len(t, g.calls(), 1, "sent once")
}

// A business call that never left because the refresh's answer was lost is
// not sent: it must not read as an unknown outcome of the business call.
func TestLostRefreshAnswerLeavesTheCallNotSent(t *testing.T) {
	c, m := mockSetup(t, storeWith(t, tokenAt(time.Now(), -time.Minute)))
	m.route(epRefresh.method, func(wireReq, int) (*http.Response, error) {
		return nil, errors.New("connection reset by peer")
	})
	_, _, err := callKeyed[echoOut](context.Background(), c, &epWrite, map[string]string{"order_no": "A1"}, "order_no=A1")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrOutcomeUnknown)
	require.Contains(t, err.Error(), "not sent, no access token")
	require.Zero(t, m.count(epWrite.method))
}

// An oversized answer is redacted whole before its sample is cut, so a
// secret straddling the cut cannot show in part.
func TestOversizedAnswerSampleShowsNoPartOfASecret(t *testing.T) {
	c, g := setup(t, WithMaxResponseBytes(1024))
	g.handle(epRead.method, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat(" ", 500)+"echo:"+testAppSecret+strings.Repeat(" ", 2000))
	})
	_, _, err := call[echoOut](context.Background(), c, &epRead, nil)
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.NotContains(t, err.Error(), testAppSecret[:7])
}
