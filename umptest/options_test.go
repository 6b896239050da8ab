package umptest_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

// TestPageSizeCapServesFewerThanAskedAndEchoesTheAsk: 23 records, 100 asked
// a page, 7 served: four pages of 7, 7, 7 and 2, each saying pageSize 100.
func TestPageSizeCapServesFewerThanAskedAndEchoesTheAsk(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)), umptest.WithPageSizeCap(7))
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	id := srv.AddMember(umptest.Member{Phone: "13800000000"})
	for i := range 23 {
		require.True(t, send(t, hc, srv, "wk.user.event.score.change",
			raw{value: tok, body: changeBody(id, "c"+string(rune('a'+i)), "event_add", 1)}).success())
	}
	var sizes []int
	for no := 1; no <= 5; no++ {
		a := send(t, hc, srv, "wk.user.score.record", raw{value: tok,
			body: js(map[string]any{"open_id": id, "score_type": 0, "pageNo": no, "pageSize": 100})})
		require.Equal(t, json.Number("100"), a.env["pageSize"])
		require.Equal(t, json.Number("23"), a.env["totalCount"])
		sizes = append(sizes, len(a.env["data"].([]any)))
	}
	require.Equal(t, []int{7, 7, 7, 2, 0}, sizes)
}

// TestPageNoIgnoredWithoutTotalCount: every page asked is the first, and
// there is no totalCount to stop at.
func TestPageNoIgnoredWithoutTotalCount(t *testing.T) {
	srv := umptest.NewServer(umptest.WithClock(umptest.NewClock(t0)), umptest.WithPageNoIgnored(), umptest.WithoutTotalCount())
	defer srv.Close()
	hc := newHTTPClient(t)
	tok := srv.IssueToken().AccessToken
	first := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: js(map[string]any{"page_no": 1, "page_size": 3})})
	second := send(t, hc, srv, "wk.user.level.list", raw{value: tok, body: js(map[string]any{"page_no": 2, "page_size": 3})})
	require.Equal(t, first.env["data"], second.env["data"])
	require.Equal(t, json.Number("2"), second.env["pageNo"])
	require.NotContains(t, second.env, "totalCount")
}

// TestSMSAnswersAsTheDocumentShowsOrInTheEnvelope: {} by default, the
// usual envelope under WithSMSEnvelope.
func TestSMSAnswersAsTheDocumentShowsOrInTheEnvelope(t *testing.T) {
	for _, tc := range []struct {
		opts []umptest.Option
		want string
	}{
		{nil, `{}`},
		{[]umptest.Option{umptest.WithSMSEnvelope()}, `{"success":true,"error_code":200,"error_message":"","data":null}`},
	} {
		srv := umptest.NewServer(append(tc.opts, umptest.WithClock(umptest.NewClock(t0)))...)
		hc := newHTTPClient(t)
		tok := srv.IssueToken().AccessToken
		a := send(t, hc, srv, "wk.sms.verify.send", raw{value: tok, body: js(map[string]any{"target": "13888888888"})})
		require.Equal(t, tc.want, string(a.body))
		code, _ := srv.LastSMSCode("13888888888")
		a = send(t, hc, srv, "wk.sms.verify.judge", raw{value: tok, body: js(map[string]any{"phone": "13888888888", "verify_code": code})})
		require.Equal(t, tc.want, string(a.body))
		a = send(t, hc, srv, "wk.sms.verify.judge", raw{value: tok, body: js(map[string]any{"phone": "13888888888", "verify_code": code})})
		require.Equal(t, int64(140005), a.code(), "failures carry the envelope: %s", a.body)
		srv.Close()
	}
}

// TestPerCallCodes: 3.7's own codes under WithPerCallCodes, the global
// table's otherwise.
func TestPerCallCodes(t *testing.T) {
	for _, tc := range []struct {
		opts            []umptest.Option
		expired, busy   int64
		expiredCodeText string
	}{
		{nil, 110006, 500, "会员码已失效"},
		{[]umptest.Option{umptest.WithPerCallCodes()}, 110001, 1001, "会员条形码失效"},
	} {
		srv := umptest.NewServer(append(tc.opts, umptest.WithClock(umptest.NewClock(t0)))...)
		hc := newHTTPClient(t)
		tok := srv.IssueToken().AccessToken
		a := send(t, hc, srv, "wk.user.code.parsing", raw{value: tok, body: js(map[string]any{"code": "00000000000000000000"})})
		require.Equal(t, tc.expired, a.code(), "%s", a.body)
		require.Contains(t, string(a.body), tc.expiredCodeText)
		for _, m := range []string{"wk.user.code.generate", "wk.user.code.parsing"} {
			srv.Fail(m, umptest.Fault{Kind: umptest.SystemBusy, Times: 1})
			a = send(t, hc, srv, m, raw{value: tok, body: js(map[string]any{"code": "1"})})
			require.Equal(t, tc.busy, a.code(), "%s: %s", m, a.body)
		}
		srv.Fail("wk.user.info.query", umptest.Fault{Kind: umptest.SystemBusy, Times: 1})
		require.Equal(t, int64(500), send(t, hc, srv, "wk.user.info.query", raw{value: tok}).code(), "other calls: 500")
		srv.Close()
	}
}
