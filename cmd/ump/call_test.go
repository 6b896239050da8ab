package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

func TestCallPrintsTheEnvelope(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "call", "wk.user.level.list", "--body", `{"page_no": 2, "page_size": 3}`).ok(t)
	var env struct {
		Success                      bool
		Data                         []map[string]any
		PageNo, PageSize, TotalCount int64
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &env))
	require.True(t, env.Success)
	require.Len(t, env.Data, 3)
	require.Equal(t, "四级会员", env.Data[0]["level_name"])
	require.Equal(t, []int64{2, 3, 7}, []int64{env.PageNo, env.PageSize, env.TotalCount})
	require.Contains(t, r.stdout, "\n  \"data\": [\n    {", "indented")
	reqs := w.srv.Requests()
	require.Equal(t, `{"page_no":2,"page_size":3}`, string(reqs[len(reqs)-1].Body), "the body as given, compacted")

	// A member created through call is there for the typed commands.
	r = w.run(t, "call", "wk.user.info.add", "--body", `{"project_id":"p1","nickname":"小明","phone":"13800000000"}`).ok(t)
	var created struct {
		Success bool
		Data    string
	}
	decodeJSON(t, r.stdout, &created)
	require.Len(t, created.Data, 32)
	m, ok := w.srv.Member("13800000000")
	require.True(t, ok)
	require.Equal(t, m.OpenID, created.Data)
}

func TestCallPrintsAnErrorAnswerAndExits1(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "call", "wk.user.info.query", "--body", `{"phone":"13800000000"}`)
	require.Equal(t, exitFailed, r.code)
	require.JSONEq(t, `{"success":false,"error_code":110003,"error_message":"会员未绑定"}`, r.stdout)
	require.Equal(t, "error 110003: 会员未绑定 (wk.user.info.query)\n", r.stderr)
}

func TestCallIsNeverRepeated(t *testing.T) {
	w := newWorld(t)
	w.srv.Fail("wk.user.info.add", umptest.Fault{Kind: umptest.DropAfterApply})
	r := w.run(t, "call", "wk.user.info.add", "--body", `{"project_id":"p1","nickname":"n","phone":"13800000000"}`)
	require.Equal(t, exitFailed, r.code)
	require.Contains(t, r.stderr, "outcome unknown")
	require.Contains(t, r.stderr, "look before you repeat it")
	require.Equal(t, 1, w.calls("wk.user.info.add"))
	_, applied := w.srv.Member("13800000000")
	require.True(t, applied, "the gateway applied it; only the answer was lost")
}
