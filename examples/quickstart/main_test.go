package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// TestJourney runs the journey against the test gateway and checks every
// line it prints against what the gateway holds afterwards.
func TestJourney(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	j := journey{phone: "13800138000", project: "18756", run: "t1", smsCode: sandboxCode(srv)}
	var out bytes.Buffer
	require.NoError(t, j.walk(t.Context(), srv.Client(), &out))

	m, ok := srv.Member("13800138000")
	require.True(t, ok, "the member is registered")
	assert.Equal(t, "18756", m.ProjectID)
	assert.Equal(t, int64(100), srv.Balance(m.OpenID), "128 granted, 28 returned, 50 added and rolled back")
	assert.Equal(t, int64(128), m.Growth)

	ledger := srv.Ledger(m.OpenID)
	require.Len(t, ledger, 4)
	var kinds []string
	var deltas []int64
	for _, st := range ledger {
		kinds = append(kinds, st.Kind)
		deltas = append(deltas, st.Delta)
	}
	assert.Equal(t, []string{umptest.KindOrder, umptest.KindRefund, umptest.KindChange, umptest.KindRollback}, kinds)
	assert.Equal(t, []int64{128, -28, 50, -50}, deltas)
	change := ledger[2]
	assert.Equal(t, change.ID, ledger[3].Reverses, "the rollback reverses the change")
	assert.Equal(t, "QS-t1-1", ledger[0].OrderNo)
	assert.Equal(t, "QS-t1-1R", ledger[1].OrderNo)

	coupons := srv.Coupons(m.OpenID)
	require.Len(t, coupons, 2)
	assert.Equal(t, "QS-t1-C1", coupons[0].ThirdCouponCode)
	assert.Equal(t, int64(umptest.CouponUsed), coupons[0].Status)
	assert.Equal(t, "QS-t1-1", coupons[0].UseOrderNo)
	assert.Equal(t, int64(umptest.CouponValid), coupons[1].Status)

	stats := srv.Stats()
	assert.Equal(t, 1, stats.TokenObtains, "exactly one token obtain")
	assert.Equal(t, 0, stats.TokenRefreshes)
	assert.Equal(t, 0, stats.Rejected)
	assert.Equal(t, 2, stats.Calls["wk.user.score.record"], "4 records, 3 a page: two pages")
	assert.Equal(t, 1, stats.Calls["wk.sms.verify.judge"])
	require.NoError(t, srv.Audit())

	// The template's platform id is the coupons' TemplateID.
	tplID := fmt.Sprint(coupons[0].TemplateID)

	want := strings.Join([]string{
		"token:    ready, expires in 2h0m0s (today: 1 obtain, 0 refreshes)",
		"member:   registered 138****8000, open_id " + m.OpenID,
		"lookup:   by phone: Quick Start, level 1 (一级会员), 0 points",
		"lookup:   by open_id: the same member (138****8000), member number " + m.UserNum,
		"code:     a 20-digit member code, which parses back to 138****8000",
		"order:    sale QS-t1-1 of 128.50 yuan: +128 points",
		"order:    return QS-t1-1R of 28.50 yuan: -28 points",
		"points:   +50, statement " + change.ID,
		"points:   statement " + change.ID + " rolled back",
		"records:  newest first, fetched 3 a page:",
		"            -50  积分回退",
		"            +50  quickstart bonus",
		"            -28  quickstart return",
		"           +128  quickstart sale",
		"coupons:  template QS-t1-TPL created, platform id " + tplID,
		fmt.Sprintf("coupons:  gave 2 to 138****8000, platform codes %d, %d", coupons[0].Code, coupons[1].Code),
		"coupons:  138****8000 holds 2 valid",
		"coupons:  QS-t1-C1 used on order QS-t1-1; 1 still valid",
		"sms:      code sent to 138****8000",
		"sms:      code checked",
		"balance:  100 points, growth 128, level 1 (一级会员)",
	}, "\n") + "\n"
	assert.Equal(t, want, out.String())
	assert.NotContains(t, out.String(), "13800138000", "phone numbers are masked")
}

// TestJourneyNamesTheFailedStep: a failure stops the journey with the step
// in the message and the SDK's error inside.
func TestJourneyNamesTheFailedStep(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.Fail("wk.coupon.template.add", umptest.Fault{Kind: umptest.SystemBusy})
	j := journey{phone: "13800138000", project: "18756", run: "t2", smsCode: sandboxCode(srv)}
	c := srv.Client()
	var out bytes.Buffer
	err := j.walk(t.Context(), c, &out)
	require.ErrorIs(t, err, ump.ErrSystemBusy)
	assert.True(t, strings.HasPrefix(err.Error(), "create coupon template: "), err.Error())
	assert.NotContains(t, out.String(), "coupons:")

	// A wrong SMS code is named too.
	srv.ClearFaults()
	j = journey{phone: "13900139000", project: "18756", run: "t3",
		smsCode: func(context.Context, string) (string, error) { return "not-it", nil }}
	err = j.walk(t.Context(), c, &out)
	require.ErrorIs(t, err, ump.ErrSMSCodeWrong)
	assert.True(t, strings.HasPrefix(err.Error(), "check SMS code: "), err.Error())
}

// TestRunInProcess is `go run ./examples/quickstart` with no settings.
func TestRunInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), func(string) string { return "" }, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	assert.True(t, strings.HasPrefix(lines[0], "mode:     in-process test gateway (umptest)"), lines[0])
	assert.Contains(t, stdout.String(), "sms:      code checked")
	assert.Equal(t, "done:     every step succeeded", lines[len(lines)-1])
	assert.Empty(t, stderr.String())
}

// TestRunAgainstGatewayFromEnv points the command at a gateway by the
// environment, as at a real one, and runs it twice: the second run finds
// the member registered, keys its orders and coupons apart from the first
// run's, and reuses the token from the token file.
func TestRunAgainstGatewayFromEnv(t *testing.T) {
	const secret = "qs-secret-0123456789-abcdef"
	srv := umptest.NewServer(umptest.WithApp("qs-app", secret))
	defer srv.Close()
	env := map[string]string{
		"UMP_BASE_URL": srv.URL, "UMP_APP_ID": "qs-app", "UMP_APP_SECRET": secret,
		"UMP_PHONE": "13700137000", "UMP_TOKEN_FILE": filepath.Join(t.TempDir(), "tokens.json"),
	}
	getenv := func(k string) string { return env[k] }

	for i, wantMember := range []string{"member:   registered 137****7000", "member:   137****7000 is registered already"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), getenv, nil, &stdout, &stderr)
		require.Equal(t, 0, code, "run %d: %s", i+1, stderr.String())
		out := stdout.String()
		assert.Contains(t, out, "mode:     gateway "+srv.URL+", app qs-app, token file "+env["UMP_TOKEN_FILE"])
		assert.Contains(t, out, wantMember)
		assert.Contains(t, out, "sms:      check skipped: no code (set UMP_SMS_CODE, or run in a terminal to type it)")
		assert.Contains(t, out, "done:     every step succeeded")
		assert.NotContains(t, out+stderr.String(), secret)
		assert.NotContains(t, out+stderr.String(), "13700137000")
	}
	assert.Equal(t, 1, srv.Stats().TokenObtains, "the second run reuses the stored token")
	assert.Equal(t, int64(200), srv.Balance("13700137000"), "each run leaves 100 points")
	assert.Len(t, srv.Coupons("13700137000"), 4)
}

// TestRunWithSMSCodeFromEnv checks the code UMP_SMS_CODE gives; a wrong one
// fails the run with exit code 1.
func TestRunWithSMSCodeFromEnv(t *testing.T) {
	srv := umptest.NewServer()
	defer srv.Close()
	env := map[string]string{
		"UMP_BASE_URL": srv.URL, "UMP_APP_ID": srv.AppID, "UMP_APP_SECRET": srv.AppSecret,
		"UMP_PHONE": "13700137000", "UMP_TOKEN_FILE": filepath.Join(t.TempDir(), "tokens.json"), "UMP_SMS_CODE": "000000",
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), func(k string) string { return env[k] }, nil, &stdout, &stderr)
	require.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "quickstart: failed: check SMS code: ")
	assert.Contains(t, stderr.String(), "140005")
}

// TestRunRefusesIncompleteSettings: a half-configured real gateway is an
// error naming what is missing, never a silent fall back to the sandbox.
func TestRunRefusesIncompleteSettings(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"UMP_BASE_URL": "https://ump.example.com"}, "missing: UMP_APP_ID, UMP_APP_SECRET"},
		{map[string]string{"UMP_APP_SECRET": "s"}, "missing: UMP_BASE_URL, UMP_APP_ID"},
		{map[string]string{"UMP_BASE_URL": "https://ump.example.com", "UMP_APP_ID": "a", "UMP_APP_SECRET": "s",
			"UMP_TOKEN_FILE": filepath.Join(t.TempDir(), "t.json")}, "set UMP_PHONE"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), func(k string) string { return tc.env[k] }, nil, &stdout, &stderr)
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr.String(), tc.want)
		assert.Empty(t, stdout.String())
	}
}

func TestMask(t *testing.T) {
	assert.Equal(t, "138****8000", mask("13800138000"))
	assert.Equal(t, "****", mask("12345"))
}
