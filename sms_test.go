package ump

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// smsAnswers are answers 6.1 and 6.2 must take as success: the document's
// "{}", nothing at all (docs/spec-notes.md#19), and the usual envelope.
func smsAnswers(t *testing.T) map[string]string {
	return map[string]string{
		"document's {}":  fixture(t, "sms-send.json"),
		"empty body":     "",
		"envelope":       `{"success":true,"error_code":200,"error_message":"","data":null}`,
		"envelope, data": `{"success":true,"data":"ok"}`,
	}
}

func TestSMSSendCode(t *testing.T) {
	for name, answer := range smsAnswers(t) {
		t.Run(name, func(t *testing.T) {
			c, g := setup(t)
			g.reply("wk.sms.verify.send", answer)
			require.NoError(t, c.SMS.SendCode(context.Background(), "13888888888"))
			calls := g.calls()
			require.Len(t, calls, 1)
			require.Equal(t, "wk.sms.verify.send", calls[0].Method)
			require.JSONEq(t, `{"target":"13888888888"}`, string(calls[0].Body))
		})
	}
}

func TestSMSVerifyCode(t *testing.T) {
	for name, answer := range smsAnswers(t) {
		t.Run(name, func(t *testing.T) {
			c, g := setup(t)
			g.reply("wk.sms.verify.judge", answer)
			require.NoError(t, c.SMS.VerifyCode(context.Background(), "13888888888", "4586"))
			calls := g.calls()
			require.Len(t, calls, 1)
			require.Equal(t, "wk.sms.verify.judge", calls[0].Method)
			require.JSONEq(t, `{"phone":"13888888888","verify_code":"4586"}`, string(calls[0].Body))
		})
	}
}

func TestSMSVerifyCodeWrong(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.sms.verify.judge", `{"success":false,"error_code":140005,"error_message":"验证码错误"}`)
	err := c.SMS.VerifyCode(context.Background(), "13888888888", "0000")
	require.ErrorIs(t, err, ErrSMSCodeWrong)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "验证码错误", apiErr.Message)
	require.NotContains(t, err.Error(), "13888888888")
	require.Len(t, g.calls(), 1)
}

func TestSMSSendCodeErrors(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.sms.verify.send", `{"success":false,"error_code":140004,"error_message":"超过当日发送上限"}`)
	require.ErrorIs(t, c.SMS.SendCode(context.Background(), "13888888888"), ErrSMSDailyLimit)
}

// TestSMSBlankIsSuccessOnlyWith200: an empty answer means success only with
// HTTP 200; otherwise nobody knows whether the code went out, and neither
// call is repeated.
func TestSMSBlankIsSuccessOnlyWith200(t *testing.T) {
	calls := map[string]func(c *Client) error{
		"wk.sms.verify.send":  func(c *Client) error { return c.SMS.SendCode(context.Background(), "13888888888") },
		"wk.sms.verify.judge": func(c *Client) error { return c.SMS.VerifyCode(context.Background(), "13888888888", "4586") },
	}
	for method, call := range calls {
		for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway} {
			c, g := setup(t)
			g.handle(method, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) })
			err := call(c)
			require.ErrorIs(t, err, ErrOutcomeUnknown, "%s, HTTP %d", method, status)
			require.Len(t, g.calls(), 1, "%s must not be repeated", method)
		}
		c, g := setup(t)
		g.handle(method, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, "{}")
		})
		require.Error(t, call(c), "%s: {} with HTTP 400", method)
		require.Len(t, g.calls(), 1)
	}
}

func TestSMSValidation(t *testing.T) {
	c, g := setup(t)
	ctx := context.Background()
	requireValidation(t, c.SMS.SendCode(ctx, ""), "wk.sms.verify.send", "target")
	ve := requireValidation(t, c.SMS.SendCode(ctx, "138888888889"), "wk.sms.verify.send", "target")
	require.NotContains(t, ve.Error(), "138888888889")
	requireValidation(t, c.SMS.VerifyCode(ctx, "", ""), "wk.sms.verify.judge", "phone", "verify_code")
	ve = requireValidation(t, c.SMS.VerifyCode(ctx, "2388888888", "4586"), "wk.sms.verify.judge", "phone")
	require.NotContains(t, ve.Error(), "2388888888")
	require.Empty(t, g.calls())
}
