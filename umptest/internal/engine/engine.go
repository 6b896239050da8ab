// Package engine emulates the member open platform's gateway: its state
// (tokens, members, levels, points, orders, coupons, SMS codes) and the rules
// of its nineteen calls, as the platform document describes them.
//
// It knows nothing of HTTP beyond a request's verb, path, query and body:
// package umptest serves it over HTTP, injects faults and exposes it to
// tests. Users import umptest, never this package.
//
// All state sits behind one mutex and every call runs under it, so the
// ledger stays consistent (a member's balance is always the sum of the
// member's statements) however many clients call at once.
package engine

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

// Config is the platform's behaviour. Zero fields take the documented value.
type Config struct {
	AppID, AppSecret string
	// Now is the platform's clock; every expiry and the Beijing day use it.
	Now func() time.Time
	// Seed makes generated ids, tokens and codes reproducible.
	Seed uint64
	// Skew is how far a timestamp may be from Now (3 s).
	Skew time.Duration
	// AccessTokenTTL is expire_in (7200 s); RefreshTokenTTL one year.
	AccessTokenTTL, RefreshTokenTTL time.Duration
	// ObtainsPerDay (1) and RefreshesPerDay (20) limit the token calls per
	// Beijing day; a negative value means no limit.
	ObtainsPerDay, RefreshesPerDay int
	// RefreshGrace is how long the previous access token keeps working
	// after an obtain or a refresh (0: it stops at once). A negative value
	// keeps every access token working until its own expiry.
	RefreshGrace time.Duration
	// MemberCodeTTL is how long a member code (3.6) parses (60 s).
	MemberCodeTTL time.Duration
	// SMSCodeTTL is how long an SMS code verifies (5 min); SMSPerDay the
	// codes sent to one phone per Beijing day (10).
	SMSCodeTTL time.Duration
	SMSPerDay  int
	// SMSEnvelope answers 6.1 and 6.2's successes in the usual envelope
	// instead of the document's {}.
	SMSEnvelope bool
	// PageSizeCap, when above zero, is the most items a page serves, while
	// pageSize echoes the size asked; pages are cut at the capped size.
	PageSizeCap int64
	// IgnorePageNo serves the first page whatever page is asked (echoing
	// the number asked); NoTotalCount leaves totalCount out of paged
	// answers. Both emulate gateways a client must not loop on.
	IgnorePageNo, NoTotalCount bool
	// PerCallCodes answers with the codes of a call's own table where the
	// document gives one that differs from the global table: 3.7's 110001
	// for an expired member code (globally "phone empty"; 110006
	// otherwise), and 3.6/3.7's 1001 for "system busy" (globally "invalid
	// parameters"; 500 otherwise, see SystemBusy).
	PerCallCodes bool
}

func (c *Config) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Skew == 0 {
		c.Skew = 3 * time.Second
	}
	if c.AccessTokenTTL == 0 {
		c.AccessTokenTTL = 7200 * time.Second
	}
	if c.RefreshTokenTTL == 0 {
		c.RefreshTokenTTL = 365 * 24 * time.Hour
	}
	if c.ObtainsPerDay == 0 {
		c.ObtainsPerDay = ump.ObtainsPerDay
	}
	if c.RefreshesPerDay == 0 {
		c.RefreshesPerDay = ump.RefreshesPerDay
	}
	if c.MemberCodeTTL == 0 {
		c.MemberCodeTTL = 60 * time.Second
	}
	if c.SMSCodeTTL == 0 {
		c.SMSCodeTTL = 5 * time.Minute
	}
	if c.SMSPerDay == 0 {
		c.SMSPerDay = 10
	}
}

// Platform is the emulated platform. It is safe for concurrent use.
type Platform struct {
	cfg Config

	mu  sync.Mutex
	rng *rand.Rand
	seq int64 // the one counter behind every numeric id

	tokens tokenState

	members   map[string]*member // by open_id
	byPhone   map[string]*member
	levels    []Level
	codes     map[string]memberCode
	userNums  int64
	score     scoreState
	orders    map[string]*order
	coupons   couponState
	sms       smsState
	openIDSet map[string]bool
}

// New returns a platform with the seven levels of the document's 3.8
// example and nothing else.
func New(cfg Config) *Platform {
	cfg.defaults()
	p := &Platform{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		seq:       1000,
		members:   map[string]*member{},
		byPhone:   map[string]*member{},
		levels:    DefaultLevels(),
		codes:     map[string]memberCode{},
		orders:    map[string]*order{},
		openIDSet: map[string]bool{},
	}
	p.tokens.init()
	p.score.init()
	p.coupons.init()
	p.sms.init()
	return p
}

// AppID returns the app id the platform serves.
func (p *Platform) AppID() string { return p.cfg.AppID }

// AppSecret returns the app's secret.
func (p *Platform) AppSecret() string { return p.cfg.AppSecret }

// Now returns the platform's time.
func (p *Platform) Now() time.Time { return p.cfg.Now() }

// Call is one request as the gateway received it.
type Call struct {
	Verb   string // HTTP method
	Path   string // URL path
	Query  url.Values
	Body   []byte
	Method string // gateway method; filled by ParsePath when empty
	// Received is when the request arrived; its timestamp is checked
	// against this, so a call the gateway applies late is not refused as
	// stale. Zero means now.
	Received time.Time
}

// Reply is the gateway's answer to a Call.
type Reply struct {
	Status int
	Body   []byte
	// Code is the envelope's error code when the call failed, 0 on success.
	Code int64
	// Rejected says the gateway refused the caller: a bad sign, a stale
	// timestamp, or an unknown or expired credential.
	Rejected bool
	// Authenticated says the call passed the checks of its timestamp,
	// credential and sign.
	Authenticated bool
}

const pathPrefix, pathSuffix = "/gw/gateway/", "/v1"

// ParsePath returns the gateway method of a /gw/gateway/{method}/v1 path.
func ParsePath(path string) (string, bool) {
	if !strings.HasPrefix(path, pathPrefix) || !strings.HasSuffix(path, pathSuffix) ||
		len(path) <= len(pathPrefix)+len(pathSuffix) {
		return "", false
	}
	m := path[len(pathPrefix) : len(path)-len(pathSuffix)]
	return m, !strings.Contains(m, "/")
}

// credential is what identifies the caller of a method.
type credential uint8

const (
	credAccessToken credential = iota
	credAppID
	credRefreshToken
)

// method is one gateway method, as data.
type method struct {
	cred  credential
	style style
	run   func(p *Platform, r *request) (any, *paging, *Fail)
}

// Methods lists the nineteen gateway methods in document order.
var Methods = []string{
	"dss.auth.token.query", "dss.auth.token.refresh",
	"wk.user.info.add", "wk.user.info.query", "wk.user.event.score.change",
	"wk.user.event.score.rollback", "wk.user.score.record", "wk.user.code.generate",
	"wk.user.code.parsing", "wk.user.level.list",
	"wk.user.consume.order", "wk.user.refund.order",
	"wk.coupon.template.add", "wk.coupon.give", "wk.coupon.sync.status",
	"wk.coupon.verification", "wk.coupon.user.list",
	"wk.sms.verify.send", "wk.sms.verify.judge",
}

// methods maps each gateway method to its rules; the envelope style of each
// follows the document's example answer for it.
var methods map[string]method

func init() {
	methods = map[string]method{
		"dss.auth.token.query":         {credAppID, styleToken, (*Platform).obtain},
		"dss.auth.token.refresh":       {credRefreshToken, styleToken, (*Platform).refresh},
		"wk.user.info.add":             {credAccessToken, styleCode200, (*Platform).memberAdd},
		"wk.user.info.query":           {credAccessToken, styleCamel, (*Platform).memberQuery},
		"wk.user.event.score.change":   {credAccessToken, styleCode200, (*Platform).scoreChange},
		"wk.user.event.score.rollback": {credAccessToken, styleCode200, (*Platform).scoreRollback},
		"wk.user.score.record":         {credAccessToken, styleCode200, (*Platform).scoreRecords},
		"wk.user.code.generate":        {credAccessToken, styleCamel, (*Platform).codeGenerate},
		"wk.user.code.parsing":         {credAccessToken, styleCamel, (*Platform).codeParse},
		"wk.user.level.list":           {credAccessToken, styleNull, (*Platform).levelList},
		"wk.user.consume.order":        {credAccessToken, styleCode200, (*Platform).consumeOrder},
		"wk.user.refund.order":         {credAccessToken, styleCode200, (*Platform).refundOrder},
		"wk.coupon.template.add":       {credAccessToken, styleNull, (*Platform).templateAdd},
		"wk.coupon.give":               {credAccessToken, styleNull, (*Platform).couponGive},
		"wk.coupon.sync.status":        {credAccessToken, styleNull, (*Platform).couponStatus},
		"wk.coupon.verification":       {credAccessToken, styleNullNoPaging, (*Platform).couponVerify},
		"wk.coupon.user.list":          {credAccessToken, styleNull, (*Platform).couponList},
		"wk.sms.verify.send":           {credAccessToken, styleEmpty, (*Platform).smsSend},
		"wk.sms.verify.judge":          {credAccessToken, styleEmpty, (*Platform).smsJudge},
	}
}

// request is a call past the gateway's checks, handed to a method.
type request struct {
	now    time.Time
	query  url.Values
	params []byte // the business parameters as a JSON object
}

// publicParams are the query parameters the gateway itself reads; every
// other query parameter is a business parameter (GET calls).
var publicParams = map[string]bool{"access_token": true, "app_id": true, "refresh_token": true, "timestamp": true, "sign": true}

// Handle answers one call: the gateway's checks (path, verb, timestamp,
// credential, sign), then the method's own rules. Reply.Authenticated says
// whether the call passed the checks of its credential and sign.
func (p *Platform) Handle(c Call) Reply {
	m, r, ok := p.route(&c)
	if !ok {
		return r
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	if r, ok := p.gate(m, c, now); !ok {
		return r
	}
	params, f := businessParams(c)
	if f != nil {
		return authenticated(styledReply(m.style, nil, nil, f))
	}
	data, pg, f := m.run(p, &request{now: now, query: c.Query, params: params})
	st := m.style
	if st == styleEmpty && p.cfg.SMSEnvelope {
		st = styleCode200
	}
	if pg != nil {
		pg.omitTotal = p.cfg.NoTotalCount
	}
	return authenticated(styledReply(st, data, pg, f))
}

// Authentic reports whether the call would pass the gateway's checks of its
// path, verb, timestamp, credential and sign, without running it.
func (p *Platform) Authentic(c Call) bool {
	m, _, ok := p.route(&c)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok = p.gate(m, c, p.cfg.Now())
	return ok
}

// route finds the call's method and checks its verb and query shape.
func (p *Platform) route(c *Call) (method, Reply, bool) {
	if c.Method == "" {
		name, ok := ParsePath(c.Path)
		if !ok {
			return method{}, gatewayReply(http.StatusNotFound, CodeUnknownMethod, ""), false
		}
		c.Method = name
	}
	m, ok := methods[c.Method]
	if !ok {
		return method{}, gatewayReply(http.StatusNotFound, CodeUnknownMethod, ""), false
	}
	if c.Verb != http.MethodPost && c.Verb != http.MethodGet {
		return method{}, gatewayReply(http.StatusMethodNotAllowed, CodeBadVerb, ""), false
	}
	for name, vs := range c.Query {
		if len(vs) > 1 {
			// The signature does not define repeated parameters.
			return method{}, gatewayReply(http.StatusOK, CodeInvalidParams, "重复的参数: "+name), false
		}
	}
	return m, Reply{}, true
}

// gate checks the timestamp (against the call's arrival), the credential
// and the sign; p.mu is held.
func (p *Platform) gate(m method, c Call, now time.Time) (Reply, bool) {
	received := c.Received
	if received.IsZero() {
		received = now
	}
	if f := p.checkTimestamp(c.Query.Get("timestamp"), received); f != nil {
		return p.reject(http.StatusOK, f), false
	}
	secret, status, f := p.authenticate(m.cred, c.Query, now)
	if f != nil {
		return p.reject(status, f), false
	}
	if !signed(c.Query, c.Body, secret) {
		return p.reject(http.StatusOK, fail(CodeBadSign)), false
	}
	return Reply{}, true
}

func authenticated(r Reply) Reply {
	r.Authenticated = true
	return r
}

// keyParams are the parameters a keyed write is unique on.
type keyParams struct {
	ChangeID wire.String `json:"change_id"`
	OrderNo  wire.String `json:"order_no"`
}

// WriteKey returns the unique key a call writes under, or "" for a call
// that writes none: change_id for 3.3, the rollback's change_id for 3.4 (a
// key space of its own, as 3.4 reads 3.3's changes without locking them),
// order_no for 4.1 and 4.2 (one space: an order_no is synced once, as a
// consume or a refund order). A real gateway serialises writes of one key
// (a unique index, a row lock); package umptest does so with these keys.
func WriteKey(c Call) string {
	var prefix string
	switch c.Method {
	case "wk.user.event.score.change":
		prefix = "change_id:"
	case "wk.user.event.score.rollback":
		prefix = "rollback change_id:"
	case "wk.user.consume.order", "wk.user.refund.order":
		prefix = "order_no:"
	default:
		return ""
	}
	params, f := businessParams(c)
	if f != nil {
		return ""
	}
	var k keyParams
	if json.Unmarshal(params, &k) != nil {
		return ""
	}
	v := k.ChangeID
	if prefix == "order_no:" {
		v = k.OrderNo
	}
	if blank(v) {
		return ""
	}
	return prefix + string(v)
}

func (p *Platform) reject(status int, f *Fail) Reply {
	r := gatewayReply(status, f.Code, f.Message)
	r.Rejected = true
	return r
}

func (p *Platform) checkTimestamp(ts string, now time.Time) *Fail {
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return failMsg(CodeStaleTimestamp, "时间戳格式错误")
	}
	d := now.Sub(time.UnixMilli(ms))
	if d > p.cfg.Skew || d < -p.cfg.Skew {
		return fail(CodeStaleTimestamp)
	}
	return nil
}

// businessParams returns the call's business parameters as a JSON object:
// the body, or, when there is none, the query's business parameters (a GET
// call), whose values are strings the lenient types accept.
func businessParams(c Call) ([]byte, *Fail) {
	body := bytes.TrimSpace(c.Body)
	if len(body) > 0 {
		if body[0] != '{' || !json.Valid(body) {
			return nil, failMsg(CodeInvalidParams, "请求体不是JSON对象")
		}
		return body, nil
	}
	obj := map[string]string{}
	for name, vs := range c.Query {
		if !publicParams[name] && len(vs) == 1 {
			obj[name] = vs[0]
		}
	}
	b, err := wire.Marshal(obj)
	if err != nil {
		return nil, failMsg(CodeInvalidParams, err.Error())
	}
	return b, nil
}

// nextID returns a fresh number from the platform's one counter.
func (p *Platform) nextID() int64 {
	p.seq++
	return p.seq
}

// hex returns n random hex digits.
func (p *Platform) hex(n int, upper bool) string {
	const lower, up = "0123456789abcdef", "0123456789ABCDEF"
	digits := lower
	if upper {
		digits = up
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[p.rng.IntN(16)]
	}
	return string(b)
}

// digits returns n random decimal digits.
func (p *Platform) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + p.rng.IntN(10))
	}
	return string(b)
}

// beijingDay is the Beijing calendar date of t, the key of every daily limit.
func beijingDay(t time.Time) string { return t.In(wire.Beijing).Format(wire.DateLayout) }

// paging is the paging fields of a paged answer.
type paging struct {
	PageNo, PageSize, TotalCount int64
	omitTotal                    bool // leave totalCount out (Config.NoTotalCount)
}

// window returns the slice bounds of the page asked over n items, as the
// platform serves it: at most PageSizeCap items, the first page when
// IgnorePageNo.
func (p *Platform) window(no, size int64, n int) (int, int) {
	if p.cfg.IgnorePageNo {
		no = 1
	}
	if c := p.cfg.PageSizeCap; c > 0 && size > c {
		size = c
	}
	return window(no, size, n)
}

// window returns the slice bounds of page no of size over n items.
func window(no, size int64, n int) (int, int) {
	start := (no - 1) * size
	if start >= int64(n) || start < 0 {
		return n, n
	}
	end := min(start+size, int64(n))
	return int(start), int(end)
}

// sortedKeys returns m's keys in order, for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
