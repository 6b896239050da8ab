package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// TestCampaign: members get one coupon each by phone, the number without a
// member is skipped, the first member's coupon is used on the order.
func TestCampaign(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	phones := []string{"13800000001", "13800000002", "13800000003", "13900000004"}
	var ids []string
	for _, p := range phones[:3] {
		ids = append(ids, srv.AddMember(umptest.Member{Phone: p}))
	}
	start := time.Now().Truncate(time.Millisecond) // the wire carries milliseconds
	until := start.AddDate(0, 0, 30).Format("2006-01-02")
	cp := campaign{id: "C1", phones: phones, start: start}
	var out bytes.Buffer
	require.NoError(t, cp.run(t.Context(), srv.Client(), &out))

	var holds []string
	for i, id := range ids {
		cs := srv.Coupons(id)
		require.Len(t, cs, 1, "member %d", i+1)
		assert.Equal(t, fmt.Sprintf("C1-%d", i+1), cs[0].ThirdCouponCode)
		assert.Equal(t, "C1", cs[0].ThirdCouponID)
		assert.True(t, cs[0].EndTime.Equal(start.AddDate(0, 0, 30)), "fixed period of 30 days")
		holds = append(holds, fmt.Sprintf(`holds    138****000%d: C1-%d "20 off 200", code %d, valid until %s`, i+1, i+1, cs[0].Code, until))
	}
	first := srv.Coupons(ids[0])[0]
	assert.Equal(t, int64(umptest.CouponUsed), first.Status)
	assert.Equal(t, "C1-ORDER-1", first.UseOrderNo)
	assert.Equal(t, int64(umptest.CouponValid), srv.Coupons(ids[1])[0].Status)

	// Given by phone: params_type "2" in the coupon_set string.
	var gives []string
	for _, r := range srv.Requests() {
		if r.Method == "wk.coupon.give" {
			gives = append(gives, string(r.Body))
		}
	}
	require.Len(t, gives, 1)
	assert.Contains(t, gives[0], `\"open_id\":\"13800000001\",\"params_type\":\"2\"`)
	assert.NotContains(t, gives[0], "13900000004")

	want := strings.Join(append(append([]string{
		fmt.Sprintf("template C1: platform id %d", first.TemplateID),
		"skipped  139****0004: not a member",
		"gave     3 coupons",
	}, holds...), "used     C1-1 on order C1-ORDER-1; 138****0001 has 1 used coupon(s)"), "\n") + "\n"
	assert.Equal(t, want, out.String())
}

// TestCampaignGivesNothingTwice: the template allows one coupon per member,
// so running the same campaign again fails on the template id, and nobody
// gets a second coupon.
func TestCampaignGivesNothingTwice(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	id := srv.AddMember(umptest.Member{Phone: "13800000001"})
	c := srv.Client()
	cp := campaign{id: "C2", phones: []string{"13800000001"}, start: time.Now()}
	require.NoError(t, cp.run(t.Context(), c, &bytes.Buffer{}))
	err := cp.run(t.Context(), c, &bytes.Buffer{})
	require.ErrorIs(t, err, ump.ErrCouponCreateFailed, "130001: third_coupon_id exists")
	assert.Len(t, srv.Coupons(id), 1)
}

// TestCampaignWithoutMembers stops before giving anything.
func TestCampaignWithoutMembers(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	cp := campaign{id: "C3", phones: []string{"13900000004"}, start: time.Now()}
	err := cp.run(t.Context(), srv.Client(), &bytes.Buffer{})
	require.EqualError(t, err, "no member to give coupons to")
	assert.Zero(t, srv.Stats().Calls["wk.coupon.give"])
}

// TestRun is `go run ./examples/coupon-campaign` with no settings.
func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), func(string) string { return "" }, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "gave     3 coupons\n")
	assert.Contains(t, stdout.String(), "used     SPRING-001-1 on order SPRING-001-ORDER-1")
	assert.NotContains(t, stdout.String(), "13800000001")
	assert.Empty(t, stderr.String())
}

// TestCampaignPastItsPeriod: a coupon whose validity has ended cannot be
// used; the platform's 130003 is reported by name.
func TestCampaignPastItsPeriod(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	id := srv.AddMember(umptest.Member{Phone: "13800000001"})
	cp := campaign{id: "C4", phones: []string{"13800000001"}, start: time.Now().AddDate(0, 0, -60)}
	err := cp.run(t.Context(), srv.Client(), &bytes.Buffer{})
	require.ErrorIs(t, err, ump.ErrCouponStatusUpdateFailed)
	assert.Contains(t, err.Error(), "verify: coupon C4-1 cannot be used: ")
	assert.Equal(t, int64(umptest.CouponValid), srv.Coupons(id)[0].Status, "not used")
}
