package engine

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/greedc/ump-go/internal/wire"
)

// Error codes. The documented ones carry the document's own messages; the
// rest are invented for cases the document leaves open, and package umptest
// documents each.
const (
	CodeSystemBusy        int64 = 500
	CodeInvalidParams     int64 = 1001
	CodePhoneEmpty        int64 = 110001
	CodeOpenIDOrPhone     int64 = 110002
	CodeMemberNotFound    int64 = 110003
	CodeAppNotFound       int64 = 110004
	CodeMemberCodeExpired int64 = 110006
	CodeInvalidPhone      int64 = 120001
	CodeOrderNotFound     int64 = 120002
	CodeCouponCreate      int64 = 130001
	CodeCouponNotFound    int64 = 130002
	CodeCouponStatus      int64 = 130003
	CodeSMSInvalidPhone   int64 = 140002
	CodeSMSTargetEmpty    int64 = 140003
	CodeSMSDailyLimit     int64 = 140004
	CodeSMSWrongCode      int64 = 140005
	CodeNoScoreRule       int64 = 150001
	CodeDuplicate         int64 = 150002
	CodeInsufficient      int64 = 150003
	CodeStatementNotFound int64 = 150004

	// Invented.
	CodeBadSign             int64 = 1002
	CodeStaleTimestamp      int64 = 1003
	CodeTokenLimit          int64 = 1004
	CodeInvalidRefreshToken int64 = 1006
	CodeInvalidAccessToken  int64 = 401
	CodeUnknownMethod       int64 = 404
	CodeBadVerb             int64 = 405
	CodePhoneRegistered     int64 = 190001
)

// messages holds the document's message for each documented code, verbatim,
// and a message for each invented one.
var messages = map[int64]string{
	CodeSystemBusy:        "系统繁忙, 请稍后再试",
	CodeInvalidParams:     "请求参数不合法",
	CodePhoneEmpty:        "手机号不能为空",
	CodeOpenIDOrPhone:     "open_id 或 phone 不能为空",
	CodeMemberNotFound:    "会员未绑定",
	CodeAppNotFound:       "未找到应用",
	CodeMemberCodeExpired: "会员码已失效",
	CodeInvalidPhone:      "非法的电话",
	CodeOrderNotFound:     "查询不到对应订单",
	CodeCouponCreate:      "创建优惠券失败",
	CodeCouponNotFound:    "查不到对应的券",
	CodeCouponStatus:      "更新优惠券状态失败",
	CodeSMSInvalidPhone:   "非法的电话号码",
	CodeSMSTargetEmpty:    "短信发送目标不能为空",
	CodeSMSDailyLimit:     "超出每天最大发送次数",
	CodeSMSWrongCode:      "验证码验证不通过",
	CodeNoScoreRule:       "集团未配置积分规则或配置已过期, 请联系集团管理员",
	CodeDuplicate:         "唯一标识已存在, 请更换",
	CodeInsufficient:      "积分池扣减积分, 用户可用积分不足",
	CodeStatementNotFound: "查询不到对应的积分流水",

	CodeBadSign:             "签名验证失败",
	CodeStaleTimestamp:      "时间戳不在北京时间3秒内",
	CodeTokenLimit:          "超出每天最大调用次数",
	CodeInvalidRefreshToken: "refresh_token无效或已过期",
	CodeInvalidAccessToken:  "access_token无效或已过期",
	CodeUnknownMethod:       "接口不存在",
	CodeBadVerb:             "不支持的请求方式",
	CodePhoneRegistered:     "手机号已注册",
}

// Message returns the message the platform sends with code.
func Message(code int64) string { return messages[code] }

// Fail is a definite failure of a call: an envelope with success false.
type Fail struct {
	Code    int64
	Message string
}

func fail(code int64) *Fail { return &Fail{Code: code, Message: messages[code]} }

// failMsg is a failure whose message adds a detail to the code's message,
// the way the platform names the offending parameter.
func failMsg(code int64, detail string) *Fail {
	m := messages[code]
	if detail != "" {
		m += ": " + detail
	}
	return &Fail{Code: code, Message: m}
}

// style is the shape of a method's envelope. The document's examples show
// four shapes; each method answers in the shape of its own example, so that
// a client must decode all of them.
type style uint8

const (
	// styleToken: {"success":true,"data":{...}} (2.1, 2.2).
	styleToken style = iota
	// styleCode200: success, error_code 200, error_message "", data; paged
	// calls add pageNo, pageSize, totalCount (3.1, 3.3-3.5, 4.x).
	styleCode200
	// styleCamel: success, data, errorCode, errorMessage and null paging
	// fields (3.2, 3.6, 3.7).
	styleCamel
	// styleNull: error_message null, data, pageNo, success, pageSize,
	// error_code null, totalCount, in that order (3.8, 5.1-5.3, 5.5).
	styleNull
	// styleNullNoPaging: styleNull without the paging fields (5.4).
	styleNullNoPaging
	// styleEmpty: {} on success, as the document shows 6.1's answer;
	// failures in styleCode200 (6.1, 6.2).
	styleEmpty
)

// field is one member of a JSON object, written in order.
type field struct {
	name  string
	value any
}

// object encodes fields as a JSON object, in the given order, without HTML
// escaping. A nil value is null.
func object(fields ...field) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		_ = wire.MarshalTo(&b, f.name)
		b.WriteByte(':')
		if f.value == nil {
			b.WriteString("null")
			continue
		}
		if err := wire.MarshalTo(&b, f.value); err != nil {
			b.WriteString("null")
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}

// styledReply encodes a method's answer in its style.
func styledReply(s style, data any, pg *paging, f *Fail) Reply {
	var code, message any
	success := f == nil
	if !success {
		code, message, data = f.Code, f.Message, nil
	}
	var pageNo, pageSize, total any
	if pg != nil {
		pageNo, pageSize, total = pg.PageNo, pg.PageSize, pg.TotalCount
	}
	if s == styleEmpty {
		if success {
			return Reply{Status: http.StatusOK, Body: []byte("{}")}
		}
		s = styleCode200
	}
	var body []byte
	switch s {
	case styleToken:
		if success {
			body = object(field{"success", true}, field{"data", data})
		} else {
			body = object(field{"success", false}, field{"error_code", code}, field{"error_message", message})
		}
	case styleCode200:
		if success {
			code, message = int64(200), ""
		}
		fs := []field{{"success", success}, {"error_code", code}, {"error_message", message}, {"data", data}}
		if pg != nil {
			fs = append(fs, field{"pageNo", pageNo}, field{"pageSize", pageSize}, field{"totalCount", total})
		}
		body = object(withoutTotal(fs, pg)...)
	case styleCamel:
		body = object(withoutTotal([]field{{"success", success}, {"data", data}, {"errorCode", code}, {"errorMessage", message},
			{"pageSize", pageSize}, {"pageNo", pageNo}, {"totalCount", total}}, pg)...)
	case styleNull:
		body = object(withoutTotal([]field{{"error_message", message}, {"data", data}, {"pageNo", pageNo}, {"success", success},
			{"pageSize", pageSize}, {"error_code", code}, {"totalCount", total}}, pg)...)
	case styleNullNoPaging:
		body = object(field{"error_message", message}, field{"data", data}, field{"success", success}, field{"error_code", code})
	}
	r := Reply{Status: http.StatusOK, Body: body}
	if f != nil {
		r.Code = f.Code
	}
	return r
}

// withoutTotal drops totalCount from fs when the page says to omit it.
func withoutTotal(fs []field, pg *paging) []field {
	if pg == nil || !pg.omitTotal {
		return fs
	}
	out := fs[:0:0]
	for _, f := range fs {
		if f.name != "totalCount" {
			out = append(out, f)
		}
	}
	return out
}

// gatewayReply is the gateway's own refusal, before any method runs.
func gatewayReply(status int, code int64, message string) Reply {
	if message == "" {
		message = messages[code]
	}
	return Reply{
		Status: status,
		Code:   code,
		Body:   object(field{"success", false}, field{"error_code", code}, field{"error_message", message}, field{"data", nil}),
	}
}

// SystemBusy is the answer of an overloaded gateway to a call of method,
// for fault injection: code 500, or under PerCallCodes 1001 ("系统繁忙") for
// 3.6 and 3.7, whose tables give that code.
func (p *Platform) SystemBusy(method string) Reply {
	if p.cfg.PerCallCodes && (method == "wk.user.code.generate" || method == "wk.user.code.parsing") {
		return gatewayReply(http.StatusOK, CodeInvalidParams, "系统繁忙")
	}
	return gatewayReply(http.StatusOK, CodeSystemBusy, "")
}
