package ump

import (
	"context"
	"encoding/json"
)

// RawAnswer is a successful answer to Raw: the envelope's data exactly as the
// gateway sent it, and the paging fields of a paged call (zero otherwise).
type RawAnswer struct {
	Data                         json.RawMessage
	PageNo, PageSize, TotalCount int64
}

// Raw calls the gateway method with body (JSON; empty sends none) through the
// same request path as the typed calls: token, timestamp, sign, envelope
// decoding. It is the escape hatch for a method the SDK has no typed call for
// yet, and for debugging (cmd/ump's call command); prefer the typed calls,
// which validate and know which calls are safe to repeat. Raw cannot know
// that, so it never repeats a call that may have reached the gateway: an
// ambiguous failure is an *OutcomeUnknownError. A failure the gateway
// answered is an *APIError; the token calls are refused (they spend the daily
// budget: use Auth).
func (c *Client) Raw(ctx context.Context, method string, body json.RawMessage) (*RawAnswer, error) {
	c = c.built()
	v := checker{method: method}
	switch {
	case !isMethodName(method):
		v.method = "Raw"
		v.add("method", "must be a gateway method name, such as wk.user.info.query")
	case method == epObtain.method || method == epRefresh.method:
		v.add("method", "token calls spend the daily budget: use Auth")
	}
	if len(body) > 0 && !json.Valid(body) {
		v.add("body", "must be valid JSON")
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	var payload any // nil sends no body; a nil RawMessage would send "null"
	if len(body) > 0 {
		payload = body
	}
	data, pg, err := call[json.RawMessage](ctx, c, &endpoint{method: method}, payload, "")
	if err != nil {
		return nil, err
	}
	return &RawAnswer{Data: data, PageNo: pg.PageNo, PageSize: pg.PageSize, TotalCount: pg.TotalCount}, nil
}

// isMethodName reports whether s can be the {method} path segment: letters,
// digits, dots, underscores and hyphens, as every documented method is.
func isMethodName(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}
