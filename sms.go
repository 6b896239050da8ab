package ump

import (
	"context"
	"encoding/json"
)

// SMSService sends and checks SMS verification codes (document section 6),
// for instance to confirm a phone number before Member.Create.
type SMSService service

// The SMS calls answer with nothing at all in the document (docs/spec-notes.md#19).
// Neither is repeated once the request may have reached the gateway: a
// second send costs the member another message and the day's quota, and a
// verification code may be spent by its first check.
var (
	epSMSSend   = endpoint{method: "wk.sms.verify.send", retry: retryNever, blankIsSuccess: true}
	epSMSVerify = endpoint{method: "wk.sms.verify.judge", retry: retryNever, blankIsSuccess: true}
)

type smsSendBody struct {
	Target string `json:"target"`
}

type smsVerifyBody struct {
	Phone      string `json:"phone"`
	VerifyCode string `json:"verify_code"`
}

func (b *smsSendBody) check(v *checker) {
	v.required("target", b.Target)
	v.phone("target", b.Target)
}

func (b *smsVerifyBody) check(v *checker) {
	v.required("phone", b.Phone)
	v.phone("phone", b.Phone)
	v.required("verify_code", b.VerifyCode)
}

// SendCode sends a verification code by SMS to phone, a mainland mobile
// number (6.1). The platform's limits surface as errors matching
// ErrSMSDailyLimit, ErrSMSInvalidPhone or ErrSMSSendFailed. If no definite
// answer came back the error matches ErrOutcomeUnknown: the message may have
// gone out.
func (s *SMSService) SendCode(ctx context.Context, phone string) error {
	c := clientOf(s)
	body := smsSendBody{Target: phone}
	if err := c.validate(&epSMSSend, &body); err != nil {
		return err
	}
	_, _, err := call[json.RawMessage](ctx, c, &epSMSSend, &body, "")
	return err
}

// VerifyCode checks the code the member received for phone (6.2). nil means
// the code is right; a wrong code fails with an error matching
// ErrSMSCodeWrong.
func (s *SMSService) VerifyCode(ctx context.Context, phone, code string) error {
	c := clientOf(s)
	body := smsVerifyBody{Phone: phone, VerifyCode: code}
	if err := c.validate(&epSMSVerify, &body); err != nil {
		return err
	}
	// Whatever data a success holds is ignored.
	_, _, err := call[json.RawMessage](ctx, c, &epSMSVerify, &body, "")
	return err
}
