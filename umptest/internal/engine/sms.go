package engine

import (
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

type smsState struct {
	sent  map[string]int // by phone and Beijing day
	codes map[string]*smsCode
}

type smsCode struct {
	code    string
	expires time.Time
	used    bool
}

func (s *smsState) init() {
	s.sent = map[string]int{}
	s.codes = map[string]*smsCode{}
}

// LastSMSCode returns the last code sent to phone, used or not.
func (p *Platform) LastSMSCode(phone string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.sms.codes[phone]
	if !ok {
		return "", false
	}
	return c.code, true
}

// smsSendIn is 6.1's body.
type smsSendIn struct {
	Target wire.String `json:"target"`
}

// smsSend is 6.1: a 6-digit code that verifies once within SMSCodeTTL; a new
// code replaces the previous one; SMSPerDay codes per phone per Beijing day.
func (p *Platform) smsSend(r *request) (any, *paging, *Fail) {
	var in smsSendIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.Target) {
		return nil, nil, fail(CodeSMSTargetEmpty)
	}
	phone := string(in.Target)
	if !wire.IsMobile(phone) {
		return nil, nil, fail(CodeSMSInvalidPhone)
	}
	key := phone + "|" + beijingDay(r.now)
	if p.sms.sent[key] >= p.cfg.SMSPerDay {
		return nil, nil, fail(CodeSMSDailyLimit)
	}
	p.sms.sent[key]++
	p.sms.codes[phone] = &smsCode{code: p.digits(6), expires: r.now.Add(p.cfg.SMSCodeTTL)}
	return nil, nil, nil
}

// smsJudgeIn is 6.2's body.
type smsJudgeIn struct {
	Phone      wire.String `json:"phone"`
	VerifyCode wire.String `json:"verify_code"`
}

// smsJudge is 6.2: a wrong, expired or already used code is 140005.
func (p *Platform) smsJudge(r *request) (any, *paging, *Fail) {
	var in smsJudgeIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	var miss missing
	miss.str("phone", in.Phone)
	miss.str("verify_code", in.VerifyCode)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if !wire.IsMobile(string(in.Phone)) {
		return nil, nil, fail(CodeSMSInvalidPhone)
	}
	c := p.sms.codes[string(in.Phone)]
	if c == nil || c.used || !r.now.Before(c.expires) || c.code != string(in.VerifyCode) {
		return nil, nil, fail(CodeSMSWrongCode)
	}
	c.used = true
	return nil, nil, nil
}
