package main

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

type changeOut struct {
	ChangeID    string `json:"change_id"`
	StatementID string `json:"statement_id"`
}

// change runs `ump score change` with a fixed change_id and returns its output.
func (w *world) change(t *testing.T, openID, event string, score int, reason, changeID string) changeOut {
	t.Helper()
	var out changeOut
	decodeJSON(t, w.run(t, "score", "change", "--open-id", openID, "--score", strconv.Itoa(score), "--event", event,
		"--reason", reason, "--out-biz-no", "T-"+changeID, "--order-amount", "12.34", "--change-id", changeID).ok(t).stdout, &out)
	return out
}

func TestScoreChange(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)
	out := w.change(t, m.OpenID, "add", 100, "开卡礼", "c-1")
	require.Equal(t, "c-1", out.ChangeID)
	ledger := w.srv.Ledger(m.OpenID)
	last := ledger[len(ledger)-1]
	require.Equal(t, out.StatementID, last.ID)
	require.Equal(t, int64(100), last.Delta)
	require.Equal(t, "c-1", last.ChangeID)
	require.Equal(t, int64(1300), w.srv.Balance(m.OpenID))

	reqs := w.srv.Requests()
	require.JSONEq(t, `{"open_id":"`+m.OpenID+`","score":100,"out_biz_no":"T-c-1","order_amount":12.34,
		"change_reason":"开卡礼","change_event":"event_add","change_id":"c-1"}`, string(reqs[len(reqs)-1].Body))

	r := w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "30", "--event", "subtract",
		"--reason", "兑换", "--out-biz-no", "T-2", "--order-amount", "0", "-o", "table").ok(t)
	id := regexp.MustCompile(`^change_id ([0-9a-f]{26}) \(derived from`).FindStringSubmatch(r.stderr)
	require.NotNil(t, id, "the derived change_id is printed before the call: %q", r.stderr)
	require.Regexp(t, `(?m)^change_id\s+`+id[1]+`\n`, r.stdout)
	require.Equal(t, int64(1270), w.srv.Balance(m.OpenID))
}

// The README's example line run twice changes points once; --new changes
// them again.
func TestScoreChangeSameLineTwiceChangesOnce(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)
	line := []string{"score", "change", "--open-id", m.OpenID, "--score", "100", "--event", "add",
		"--reason", "goodwill", "--out-biz-no", "TICKET-881", "--order-amount", "0"}
	var first, second changeOut
	r := w.run(t, line...).ok(t)
	decodeJSON(t, r.stdout, &first)
	require.Regexp(t, `^[0-9a-f]{26}$`, first.ChangeID)
	require.NotEmpty(t, first.StatementID)
	require.Equal(t, int64(1300), w.srv.Balance(m.OpenID))

	r = w.run(t, line...).ok(t)
	decodeJSON(t, r.stdout, &second)
	require.Equal(t, first.ChangeID, second.ChangeID, "the same line derives the same change_id")
	require.Empty(t, second.StatementID)
	require.Contains(t, r.stderr, "change_id "+first.ChangeID+" had already been applied (150002): nothing moved now\n")
	require.Equal(t, int64(1300), w.srv.Balance(m.OpenID), "points changed once")

	// Any field of the derivation changes the change_id.
	other := append([]string(nil), line...)
	other[len(other)-3] = "TICKET-882"
	var third changeOut
	decodeJSON(t, w.run(t, other...).ok(t).stdout, &third)
	require.NotEqual(t, first.ChangeID, third.ChangeID)
	require.Equal(t, int64(1400), w.srv.Balance(m.OpenID))

	r = w.run(t, append(line, "--new")...).ok(t)
	require.Regexp(t, `^change_id [0-9a-f]{26} \(generated: keep it`, r.stderr)
	require.Equal(t, int64(1500), w.srv.Balance(m.OpenID), "--new sends a new change")

	r = w.run(t, append(line, "--new", "--change-id", "c-1")...)
	require.Equal(t, exitUsage, r.code)
	require.Equal(t, int64(1500), w.srv.Balance(m.OpenID))
}

func TestDerivedChangeID(t *testing.T) {
	base := ump.ScoreChangeRequest{OpenID: "o-1", Score: 100, OutBizNo: "T-1", ChangeEvent: ump.EventAdd,
		ChangeReason: "r", OrderAmount: 1}
	id := derivedChangeID("app", &base)
	require.Regexp(t, `^[0-9a-f]{26}$`, id)
	same := base
	same.ChangeReason, same.OrderAmount = "another reason", 2
	require.Equal(t, id, derivedChangeID("app", &same), "reason and amount are not part of the change's identity")
	for name, r := range map[string]ump.ScoreChangeRequest{
		"open_id": {OpenID: "o-2", Score: 100, OutBizNo: "T-1", ChangeEvent: ump.EventAdd},
		"score":   {OpenID: "o-1", Score: 10, OutBizNo: "T-1", ChangeEvent: ump.EventAdd},
		"out_biz": {OpenID: "o-1", Score: 100, OutBizNo: "T-2", ChangeEvent: ump.EventAdd},
		"event":   {OpenID: "o-1", Score: 100, OutBizNo: "T-1", ChangeEvent: ump.EventSubtract},
		// Lengths go in: moving a character from one field to the next
		// is another change.
		"boundary": {OpenID: "o-1T", Score: 100, OutBizNo: "-1", ChangeEvent: ump.EventAdd},
	} {
		require.NotEqual(t, id, derivedChangeID("app", &r), name)
	}
	require.NotEqual(t, id, derivedChangeID("other-app", &base), "app")
}

func TestScoreChangePlatformRefusalsExit1(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)
	w.change(t, m.OpenID, "add", 100, "once", "c-1")
	// A --change-id used before: refused, nothing moved.
	r := w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "100", "--event", "add",
		"--reason", "twice", "--out-biz-no", "T-1", "--order-amount", "0", "--change-id", "c-1")
	require.Equal(t, exitFailed, r.code)
	require.Regexp(t, `^error 150002: `, r.stderr)
	require.Contains(t, r.stderr, "the change_id was used before, and nothing moved now")
	require.Equal(t, int64(1300), w.srv.Balance(m.OpenID))
	// With --resolve, the repeat of a change of unknown outcome: it had applied.
	r = w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "100", "--event", "add",
		"--reason", "twice", "--out-biz-no", "T-1", "--order-amount", "0", "--change-id", "c-1", "--resolve").ok(t)
	require.Equal(t, "change_id c-1 had already been applied (150002): nothing moved now\n", r.stderr)

	r = w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "99999", "--event", "subtract",
		"--reason", "too much", "--out-biz-no", "T-2", "--order-amount", "0", "--change-id", "c-2")
	require.Equal(t, exitFailed, r.code)
	require.Regexp(t, `^error 150003: `, r.stderr)
	require.Equal(t, int64(1300), w.srv.Balance(m.OpenID))
}

func TestScoreChangeListsEveryBadField(t *testing.T) {
	w := newWorld(t)
	r := w.run(t, "score", "change", "--event", "bonus", "--order-amount", "1.234")
	require.Equal(t, exitUsage, r.code)
	require.Equal(t, `ump score change: invalid request (wk.user.event.score.change):
  --event (change_event): must be add or subtract
  --order-amount (order_amount): must be an amount in yuan with at most 2 decimals, such as 12.34
`, r.stderr)

	r = w.run(t, "score", "change", "--event", "add", "--change-id", "c-1")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "--order-amount (order_amount): required")

	r = w.run(t, "score", "change", "--event", "add", "--order-amount", "0", "--change-id", "c-1")
	require.Equal(t, exitUsage, r.code)
	for _, want := range []string{"--open-id (open_id): required", "--score (score): must be above zero",
		"--out-biz-no (out_biz_no): required", "--reason (change_reason): required"} {
		require.Contains(t, r.stderr, want)
	}
	require.Zero(t, w.total(), "nothing was sent")
}

func TestScoreChangeWithUnknownOutcomeNamesTheChangeID(t *testing.T) {
	w := newWorld(t)
	m := w.addMember(t)
	// One lost answer: the SDK sends the change again under its change_id.
	w.srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	var out changeOut
	r := w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "5", "--event", "add",
		"--reason", "r", "--out-biz-no", "T-8", "--order-amount", "0", "--change-id", "c-8").ok(t)
	decodeJSON(t, r.stdout, &out)
	require.Equal(t, "c-8", out.ChangeID)
	require.Contains(t, r.stderr, "had already been applied")
	require.Equal(t, int64(1205), w.srv.Balance(m.OpenID), "applied once")

	// Every answer lost: the error names the change_id to resolve.
	w.srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply})
	r = w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "5", "--event", "add",
		"--reason", "r", "--out-biz-no", "T-9", "--order-amount", "0", "--change-id", "c-9")
	require.Equal(t, exitFailed, r.code)
	id := regexp.MustCompile(`outcome unknown \(change_id=([0-9a-z-]+)\)`).FindStringSubmatch(r.stderr)
	require.NotNil(t, id, r.stderr)
	require.Contains(t, r.stderr, "Run the same command with --change-id "+id[1]+" --resolve")

	// Resolving it, as the hint says, applies the change once.
	w.srv.ClearFaults()
	decodeJSON(t, w.run(t, "score", "change", "--open-id", m.OpenID, "--score", "5", "--event", "add",
		"--reason", "r", "--out-biz-no", "T-9", "--order-amount", "0", "--change-id", id[1], "--resolve").ok(t).stdout, &out)
	require.Equal(t, int64(1210), w.srv.Balance(m.OpenID))
	require.Equal(t, "c-9", out.ChangeID)
	standing := 0
	for _, st := range w.srv.Ledger(m.OpenID) {
		if st.Kind == umptest.KindChange && st.OrderNo == "T-9" && len(st.ReversedBy) == 0 {
			standing++
			require.Equal(t, "c-9", st.ChangeID)
		}
	}
	require.Equal(t, 1, standing)
}

// recordWorld is a member with five statements a minute apart.
func recordWorld(t *testing.T) (*world, string) {
	w := newWorld(t)
	m := w.addMember(t) // the opening balance is one statement
	for i, c := range []struct {
		event  string
		score  int
		reason string
	}{{"add", 100, "开卡礼"}, {"subtract", 30, "兑换 咖啡券"}, {"add", 5, "签到"}, {"subtract", 200, "积分抵现"}} {
		w.clock.Advance(time.Minute)
		w.change(t, m.OpenID, c.event, c.score, c.reason, "c-"+strconv.Itoa(i))
	}
	return w, m.OpenID
}

func TestScoreRecords(t *testing.T) {
	w, openID := recordWorld(t)
	r := w.run(t, "score", "records", "--open-id", openID, "--page-size", "2").ok(t)
	golden(t, "score-records-page", r.stdout)
	require.Equal(t, "page 1 of 3 (5 records); --page 2 for the next, --all for every page\n", r.stderr)

	r = w.run(t, "score", "records", "--open-id", openID, "--page-size", "2", "--all").ok(t)
	golden(t, "score-records-all", r.stdout)
	require.Empty(t, r.stderr)

	r = w.run(t, "score", "records", "--open-id", openID, "--type", "expense").ok(t)
	golden(t, "score-records-expense", r.stdout)

	var l listView[recordView]
	decodeJSON(t, w.run(t, "score", "records", "--open-id", openID, "--page", "2", "--page-size", "2", "-o", "json").ok(t).stdout, &l)
	require.Equal(t, 2, l.PageNo)
	require.Equal(t, 2, l.PageSize)
	require.Equal(t, 5, l.TotalCount)
	require.Len(t, l.Items, 2)
	require.Equal(t, int64(-30), l.Items[0].Amount)
	require.Equal(t, "2025-03-14T10:02:00+08:00", l.Items[0].CreateTime.Format(time.RFC3339))

	fresh := w.srv.AddMember(umptest.Member{Phone: "13800000001"})
	r = w.run(t, "score", "records", "--open-id", fresh).ok(t)
	require.Equal(t, "no records\n", r.stderr)
	decodeJSON(t, w.run(t, "score", "records", "--open-id", fresh, "-o", "json").ok(t).stdout, &l)
	require.NotNil(t, l.Items)
	require.Empty(t, l.Items)
}
