package ump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// docCodes is the document's error table ("异常返回码归纳"), copied by hand so
// that a code dropped from documentedCodes is noticed.
var docCodes = []int64{
	500, 1001,
	110001, 110002, 110003, 110004, 110005, 110006,
	120001, 120002,
	130001, 130002, 130003,
	140001, 140002, 140003, 140004, 140005,
	150001, 150002, 150003, 150004, 150005, 150006,
}

func allSentinels() []error {
	seen := map[error]bool{}
	var out []error
	for _, s := range documentedCodes {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func TestEveryDocumentedCodeIsMapped(t *testing.T) {
	require.Len(t, documentedCodes, len(docCodes))
	for _, code := range docCodes {
		sentinel, ok := documentedCodes[code]
		require.True(t, ok, "code %d has no sentinel", code)
		err := &APIError{Method: "wk.test", Code: code, Message: "x"}
		require.True(t, errors.Is(err, sentinel), "code %d", code)
		require.True(t, errors.Is(fmt.Errorf("wrapped: %w", err), sentinel), "code %d, wrapped", code)
		require.Contains(t, sentinel.Error(), "ump: error ")
		for _, other := range allSentinels() {
			if other != sentinel {
				require.False(t, errors.Is(err, other), "code %d also matches %v", code, other)
			}
		}
		require.False(t, errors.Is(err, ErrTokenInvalid))
		require.False(t, errors.Is(err, ErrOutcomeUnknown))
	}
	require.True(t, errors.Is(&APIError{Code: 110004}, ErrAppNotFound))
	require.True(t, errors.Is(&APIError{Code: 110005}, ErrAppNotFound))
	require.Equal(t, "ump: error 500: system busy, try again later", ErrSystemBusy.Error())
}

func TestUnknownCodesMatchNoSentinel(t *testing.T) {
	for _, code := range []int64{0, 200, 401, 1005, 110000, 110007, 150007, 999999, -1} {
		err := &APIError{Code: code}
		for _, s := range allSentinels() {
			require.False(t, errors.Is(err, s), "code %d matches %v", code, s)
		}
	}
}

func TestAPIErrorFromTheGateway(t *testing.T) {
	for name, body := range map[string]string{
		"snake_case": `{"success":false,"error_code":110003,"error_message":"会员未绑定"}`,
		"camelCase":  `{"success":false,"errorCode":110003,"errorMessage":"会员未绑定"}`,
		"as strings": `{"success":"false","errorCode":"110003","errorMessage":"会员未绑定","data":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, m := mockSetup(t, nil)
			m.reply(epRead.method, body)
			_, _, err := call[echoOut](context.Background(), c, &epRead, nil, "")
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, APIError{Method: epRead.method, HTTPStatus: 200, Code: 110003, Message: "会员未绑定"}, *apiErr)
			require.True(t, errors.Is(err, ErrMemberNotBound))
			require.Equal(t, "ump: wk.test.read: error 110003 (member not bound): 会员未绑定", err.Error())
			require.Equal(t, 1, m.count(epRead.method), "a definite error is not repeated")
		})
	}
}

func TestAPIErrorMessage(t *testing.T) {
	msg := "集团未配置积分规则或配置已过期, 请联系集团管理员"
	e := &APIError{Method: "wk.user.event.score.change", HTTPStatus: 200, Code: 150001, Message: msg}
	require.Equal(t, "ump: wk.user.event.score.change: error 150001 (no score rule configured, or it expired): "+msg, e.Error())

	// The field is verbatim; the text masks what the gateway echoed.
	e = &APIError{Method: "wk.user.info.add", HTTPStatus: 502, Code: 120001, Message: "非法的电话13800001234, 身份证440402199001011234"}
	require.Equal(t, "非法的电话13800001234, 身份证440402199001011234", e.Message)
	require.Equal(t, "ump: wk.user.info.add: error 120001 (invalid phone): 非法的电话138****1234, 身份证4****************4 (HTTP 502)", e.Error())
	require.Equal(t, "ump: m: error 0", (&APIError{Method: "m"}).Error())
	require.Equal(t, "ump: wk.user.info.query: error 110003 (member not bound): 会员未绑定",
		(&APIError{Method: "wk.user.info.query", Code: 110003, Message: "会员未绑定"}).Error())
	require.Equal(t, "ump: m: error 424242: 未知", (&APIError{Method: "m", Code: 424242, Message: "未知"}).Error(),
		"a code no table lists has no description")
}

// Where a call's own table gives a code its own meaning, that meaning wins
// for that call only (docs/spec-notes.md#21).
func TestCodesByCall(t *testing.T) {
	expired := &APIError{Method: "wk.user.code.parsing", Code: 110001, Message: "会员条形码失效"}
	require.ErrorIs(t, expired, ErrMemberCodeExpired)
	require.NotErrorIs(t, expired, ErrPhoneEmpty)
	require.Equal(t, "ump: wk.user.code.parsing: error 110001 (member code expired): 会员条形码失效", expired.Error())
	require.False(t, Retryable(expired))

	elsewhere := &APIError{Method: "wk.user.info.query", Code: 110001}
	require.ErrorIs(t, elsewhere, ErrPhoneEmpty)
	require.NotErrorIs(t, elsewhere, ErrMemberCodeExpired)

	for _, m := range []string{"wk.user.code.generate", "wk.user.code.parsing"} {
		busy := &APIError{Method: m, Code: 1001, Message: "系统繁忙"}
		require.ErrorIs(t, busy, ErrSystemBusy, m)
		require.NotErrorIs(t, busy, ErrInvalidParameters, m)
		require.True(t, Retryable(busy), m)
	}
	invalid := &APIError{Method: "wk.user.info.query", Code: 1001}
	require.ErrorIs(t, invalid, ErrInvalidParameters)
	require.False(t, Retryable(invalid))
}

// 1001 from 3.6 or 3.7 is "system busy" and is sent again; from another call
// it is a definite refusal.
func TestBusy1001IsRepeatedOnTheMemberCodeCalls(t *testing.T) {
	c, g := setup(t)
	busy := `{"success":false,"errorCode":1001,"errorMessage":"系统繁忙","data":null}`
	g.handle("wk.user.code.generate", sequence(answerWith(busy), answerWith(fixture(t, "member-code.json"))))
	code, err := c.Member.GenerateCode(context.Background(), "25c56912e05847c0b09f03ca7e52b796")
	require.NoError(t, err)
	require.NotEmpty(t, code)
	require.Len(t, g.calls(), 2)

	g.reply("wk.user.info.query", `{"success":false,"error_code":1001,"error_message":"参数错误","data":null}`)
	_, err = c.Member.Get(context.Background(), &MemberQuery{OpenID: "o1"})
	require.ErrorIs(t, err, ErrInvalidParameters)
	require.Len(t, g.calls(), 3, "not repeated")
}

func TestErrorTypesUnwrap(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	terr := &TransportError{Method: "m", Err: cause}
	require.ErrorIs(t, terr, io.ErrUnexpectedEOF)
	require.Equal(t, "ump: m: transport: unexpected EOF", terr.Error())

	rerr := &ResponseError{Method: "m", HTTPStatus: 502, Sample: "<html>", Err: errors.New("answer is not a gateway envelope")}
	require.Equal(t, `ump: m: HTTP 502: answer is not a gateway envelope: "<html>"`, rerr.Error())

	unknown := &OutcomeUnknownError{Method: "wk.user.consume.order", Key: "order_no=A123", Err: terr}
	require.ErrorIs(t, unknown, ErrOutcomeUnknown)
	require.ErrorIs(t, unknown, io.ErrUnexpectedEOF)
	var got *TransportError
	require.ErrorAs(t, unknown, &got)
	require.Equal(t, "ump: wk.user.consume.order: outcome unknown (order_no=A123): ump: m: transport: unexpected EOF", unknown.Error())

	tok := &APIError{Method: "m", HTTPStatus: 401, tokenInvalid: true}
	require.ErrorIs(t, tok, ErrTokenInvalid)
}

func TestValidationErrorAndChecker(t *testing.T) {
	v := checker{method: "wk.user.info.query"}
	require.NoError(t, v.err())
	v.required("open_id", " ")
	v.phone("phone", "1380000123")
	v.phone("mobile", "")           // empty is the required check's business
	v.phone("other", "13800001234") // fine
	err := v.err()
	var verr *ValidationError
	require.ErrorAs(t, err, &verr)
	require.Equal(t, []FieldError{{"open_id", "required"}, {"phone", "must be an 11-digit mainland mobile number"}}, verr.Fields)
	require.True(t, verr.Has("phone"))
	require.False(t, verr.Has("mobile"))
	require.Equal(t, "ump: wk.user.info.query: invalid request: open_id: required; phone: must be an 11-digit mainland mobile number", err.Error())
	require.NotContains(t, err.Error(), "1380000123", "the bad value is not repeated")
}

func TestErrDuplicateChangeIDIsErrAlreadyExists(t *testing.T) {
	err := &APIError{Method: "wk.user.consume.order", Code: 150002}
	require.ErrorIs(t, err, ErrAlreadyExists)
	require.ErrorIs(t, err, ErrDuplicateChangeID, "the deprecated name matches the same code")
	require.Same(t, ErrAlreadyExists, ErrDuplicateChangeID)
}
