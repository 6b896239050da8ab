package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/umptest"
)

// addMember registers the member every member test looks up.
func (w *world) addMember(t *testing.T) umptest.Member {
	t.Helper()
	id := w.srv.AddMember(umptest.Member{
		Phone: "13800000000", Nickname: "小明", RealName: "王小明", ProjectID: "zhuhai-01", Gender: 1,
		Birthday: "1990-05-17", City: "珠海", Email: "xm@example.com", IDCard: "44040019900517123X",
		RegisteredAt: t0.Add(-30 * 24 * time.Hour), Score: 1200, Growth: 1500,
	})
	m, ok := w.srv.Member(id)
	require.True(t, ok)
	return m
}

func TestMemberGet(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)

	var v memberView
	decodeJSON(t, w.run(t, "member", "get", "--phone", m.Phone).ok(t).stdout, &v)
	require.Equal(t, m.OpenID, v.OpenID)
	require.Equal(t, "13800000000", v.Phone, "operators see the whole number")
	require.Equal(t, "1990-05-17", v.Birthday)
	require.Equal(t, int64(1200), v.Score)
	require.Equal(t, int64(3), v.LevelNumber)
	require.Equal(t, "2025-02-12T10:00:00+08:00", v.RegisterTime.Format(time.RFC3339))

	r := w.run(t, "member", "get", "--open-id", m.OpenID, "-o", "table").ok(t)
	golden(t, "member-get", r.stdout)
}

func TestMemberGetUnknownExits1WithThePlatformsCode(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "member", "get", "--phone", "13900000000")
	require.Equal(t, exitFailed, r.code)
	require.Empty(t, r.stdout)
	require.Equal(t, "error 110003: 会员未绑定 (wk.user.info.query)\n", r.stderr)
}

func TestMemberCodeThenParse(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)
	var c struct{ Code string }
	decodeJSON(t, w.run(t, "member", "code", "--phone", m.Phone).ok(t).stdout, &c)
	require.Len(t, c.Code, 20)
	decodeJSON(t, w.run(t, "member", "code", "--open-id", m.OpenID).ok(t).stdout, &c)

	var v memberView
	decodeJSON(t, w.run(t, "member", "parse", c.Code).ok(t).stdout, &v)
	require.Equal(t, m.OpenID, v.OpenID)

	w.clock.Advance(61 * time.Second) // codes parse for 60 s
	r := w.run(t, "member", "parse", c.Code)
	require.Equal(t, exitFailed, r.code)
	require.Equal(t, "error 110006: 会员码已失效 (wk.user.code.parsing)\n", r.stderr)
}

func TestMemberLevels(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "member", "levels").ok(t)
	golden(t, "member-levels", r.stdout)
	require.Empty(t, r.stderr)

	var l listView[levelView]
	decodeJSON(t, w.run(t, "member", "levels", "-o", "json").ok(t).stdout, &l)
	require.Len(t, l.Items, 7)
	require.Equal(t, 7, l.TotalCount)
	require.Equal(t, "七级会员", l.Items[6].Name)
}
