package ump_test

// The hostile-gateway suite: every call of the SDK against a gateway that
// redirects elsewhere, echoes the request (URL, body, secret, token) into
// every field of its answer, answers data of the wrong shape, answers 5 MiB
// or answers slowly. Whatever the gateway does, no request leaves for
// another host, and no error text (%v, %+v, %#v, %s), log line (text or
// JSON, at debug level) or panic shows the app secret, a token, a sign, a
// full phone number or an identity number.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/testutil/logtest"
	"github.com/greedc/ump-go/umptest"
)

// Personal data the hostile suite sends.
const (
	hosPhone  = "13712349876"
	hosPhone2 = "13987650123"
	hosIDCard = "440402199001015678"
	hosIDNo   = "M05839911" // a passport number
)

// hostileCall is one of the nineteen calls, with a request that is valid.
type hostileCall struct {
	name string
	// write: the call changes the platform's state.
	write bool
	do    func(ctx context.Context, c *ump.Client, tok ump.Token) error
}

// hostileCalls lists every gateway call the SDK makes, one service method
// each (the Resolve and All* variants send the same calls).
var hostileCalls = []hostileCall{
	{"Auth.Obtain (2.1)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Auth.Obtain(ctx)
		return err
	}},
	{"Auth.Refresh (2.2)", true, func(ctx context.Context, c *ump.Client, tok ump.Token) error {
		_, err := c.Auth.Refresh(ctx, tok.RefreshToken)
		return err
	}},
	{"Member.Create (3.1)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "p1", Nickname: "李四", Phone: hosPhone2,
			IDCard: hosIDCard, RealName: "李四"})
		return err
	}},
	{"Member.Get (3.2)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: hosPhone})
		return err
	}},
	{"Score.Change (3.3)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Score.Change(ctx, changeRequest(hosPhone, ump.NewChangeID(), 10, ump.EventAdd))
		return err
	}},
	{"Score.Rollback (3.4)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: hosPhone, StatementID: "ST1",
			RollbackScore: 1, ChangeID: ump.NewChangeID()})
		return err
	}},
	{"Score.Records (3.5)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Score.Records(ctx, &ump.ScoreRecordsRequest{OpenID: hosPhone})
		return err
	}},
	{"Member.GenerateCode (3.6)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Member.GenerateCode(ctx, hosPhone)
		return err
	}},
	{"Member.GetByCode (3.7)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Member.GetByCode(ctx, "12345678901234567890")
		return err
	}},
	{"Member.ListLevels (3.8)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Member.ListLevels(ctx, &ump.PageRequest{})
		return err
	}},
	{"Order.SyncConsume (4.1)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: hostileSale()})
		return err
	}},
	{"Order.SyncRefund (4.2)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		ret := hostileSale()
		ret.OrderNo, ret.CustomerIDNumber = "R-"+ump.NewChangeID(), hosIDCard
		_, err := c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: ret, ParentOrderNo: "S-1"})
		return err
	}},
	{"Coupon.CreateTemplate (5.1)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{ThirdCouponID: "T-" + ump.NewChangeID(), Name: "券",
			DiscountFee: 500, Rules: "无门槛", FixedTerm: 7})
		return err
	}},
	{"Coupon.Give (5.2)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: "T1", Number: 1,
			CouponSet: []ump.CouponGrant{{OpenID: hosPhone, ParamsType: ump.ParamsPhone, CouponNumber: "CN-" + ump.NewChangeID()}}})
		return err
	}},
	{"Coupon.SyncStatus (5.3)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Coupon.SyncStatus(ctx, &ump.CouponStatusRequest{ThirdCouponCode: "CN-1", OpenID: hosPhone, Status: ump.CouponValid})
		return err
	}},
	{"Coupon.Verify (5.4)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		return c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: hosPhone, OrderNo: "S-1", ThirdCouponCodes: []string{"CN-1"}})
	}},
	{"Coupon.ListUserCoupons (5.5)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		_, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: hosPhone})
		return err
	}},
	{"SMS.SendCode (6.1)", true, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		return c.SMS.SendCode(ctx, hosPhone)
	}},
	{"SMS.VerifyCode (6.2)", false, func(ctx context.Context, c *ump.Client, _ ump.Token) error {
		return c.SMS.VerifyCode(ctx, hosPhone, "123456")
	}},
}

func hostileSale() ump.OrderDetails {
	return ump.OrderDetails{OrderNo: "S-" + ump.NewChangeID(), Phone: hosPhone, ConsumeDate: time.Now(),
		OrderAmount: ump.Yuan(99, 50), OrderScore: 99, CustomerIDType: 14, CustomerIDTypeName: "护照",
		CustomerIDNumber: hosIDNo, VIPName: "张三"}
}

// elsewhere is another host, which must never see a request.
type elsewhere struct {
	*httptest.Server
	hits atomic.Int64
}

func newElsewhere(t *testing.T) *elsewhere {
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.hits.Add(1)
		fmt.Fprint(w, `{"success":true,"data":{"statement_id":"FAKE","open_id":"FAKE"}}`)
	}))
	t.Cleanup(e.Close)
	return e
}

// hostRecorder is a transport that notes every host and every credential and
// sign the client sends.
type hostRecorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts map[string]int
	creds map[string]bool
}

func (r *hostRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts[req.URL.Host]++
	for _, k := range []string{"access_token", "refresh_token", "sign"} {
		if v := req.URL.Query().Get(k); v != "" {
			r.creds[v] = true
		}
	}
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *hostRecorder) secrets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for v := range r.creds {
		out = append(out, v)
	}
	return out
}

// fanout is a slog handler writing each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool { return f[0].Enabled(ctx, l) }
func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	for _, h := range f {
		if err := h.Handle(ctx, r.Clone()); err != nil {
			return err
		}
	}
	return nil
}
func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}
func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}

// hostileHarness is a gateway, another host, and what the calls showed.
type hostileHarness struct {
	t     *testing.T
	srv   *umptest.Server
	away  *elsewhere
	rec   *hostRecorder
	logs  logtest.Buffer
	log   *slog.Logger
	mu    sync.Mutex
	texts []string // error texts in every verb, panic messages
}

func newHostile(t *testing.T) *hostileHarness {
	h := &hostileHarness{t: t}
	h.srv = umptest.NewServer(umptest.WithSeed(5), umptest.WithTokenLimits(10000, 10000))
	t.Cleanup(h.srv.Close)
	h.srv.AddMember(umptest.Member{Phone: hosPhone, IDCard: hosIDCard, RealName: "张三", Score: 5000})
	h.away = newElsewhere(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	h.rec = &hostRecorder{base: tr, hosts: map[string]int{}, creds: map[string]bool{}}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	h.log = slog.New(fanout{slog.NewTextHandler(&h.logs, opts), slog.NewJSONHandler(&h.logs, opts)})
	return h
}

// client returns a client with a token store of its own, holding a token
// issued without spending a token call, so that every call starts afresh.
// Its http.Client follows redirects, as a caller's might: the SDK's copy
// must not.
func (h *hostileHarness) client(opts ...ump.Option) (*ump.Client, ump.Token) {
	store := ump.NewMemoryTokenStore()
	tok, err := store.CompareAndSwap(context.Background(), h.srv.AppID, 0, h.srv.IssueToken())
	require.NoError(h.t, err)
	hc := &http.Client{Transport: h.rec, CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	return h.srv.Client(append([]ump.Option{ump.WithLogger(h.log), ump.WithTokenStore(store), ump.WithHTTPClient(hc),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})},
		opts...)...), tok
}

// run makes the call, recording its error in every verb, or its panic.
func (h *hostileHarness) run(ctx context.Context, c *ump.Client, tok ump.Token, call hostileCall) (err error) {
	defer func() {
		if p := recover(); p != nil {
			h.note(fmt.Sprint(p))
			h.t.Errorf("%s panicked: %v", call.name, p)
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	err = call.do(ctx, c, tok)
	if err != nil {
		h.note(fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%s", err))
		// The errors it wraps, as a caller reaching them with errors.As sees them.
		var apiErr *ump.APIError
		var respErr *ump.ResponseError
		if errors.As(err, &apiErr) {
			h.note(fmt.Sprintf("%#v", apiErr), apiErr.Message)
		}
		if errors.As(err, &respErr) {
			h.note(fmt.Sprintf("%#v", respErr), respErr.Sample)
		}
	}
	return err
}

func (h *hostileHarness) note(texts ...string) {
	h.mu.Lock()
	h.texts = append(h.texts, texts...)
	h.mu.Unlock()
}

// check asserts that nothing secret was shown and no request went astray.
func (h *hostileHarness) check() {
	t := h.t
	t.Helper()
	require.Zero(t, h.away.hits.Load(), "a request reached another host")
	base, err := url.Parse(h.srv.URL)
	require.NoError(t, err)
	h.rec.mu.Lock()
	for host := range h.rec.hosts {
		require.Equal(t, base.Host, host, "a request went to another host")
	}
	h.rec.mu.Unlock()
	secrets := append(h.rec.secrets(), h.srv.AppSecret, hosPhone, hosPhone2, hosIDCard, hosIDNo)
	require.Greater(t, len(secrets), 6, "tokens and signs were sent")
	lines := strings.Split(h.logs.String(), "\n")
	require.Greater(t, len(lines), 2, "the SDK logged at debug level")
	logtest.RequireNoneShown(t, append(lines, h.texts...), secrets)
}

// TestHostileGatewayLeaksNothing runs every call under every hostile fault.
func TestHostileGatewayLeaksNothing(t *testing.T) {
	type hostile struct {
		name  string
		fault umptest.Fault
		opts  []ump.Option
		// check looks at one call's error; nil checks nothing more.
		check func(t *testing.T, call hostileCall, err error)
		// only picks the calls to make; nil makes all nineteen.
		only func(hostileCall) bool
	}
	definite := func(t *testing.T, call hostileCall, err error) {
		require.Error(t, err, call.name)
	}
	var faults []hostile
	for _, status := range []int{301, 302, 303, 307, 308} {
		faults = append(faults, hostile{name: fmt.Sprintf("Redirect%d", status),
			fault: umptest.Fault{Kind: umptest.Redirect, Status: status},
			check: func(t *testing.T, call hostileCall, err error) {
				var respErr *ump.ResponseError
				require.ErrorAs(t, err, &respErr, call.name)
				require.Equal(t, status, respErr.HTTPStatus, call.name)
				require.NotErrorIs(t, err, ump.ErrOutcomeUnknown, "%s: a redirect is a definite failure", call.name)
			}})
	}
	faults = append(faults,
		hostile{name: "EchoRequest", fault: umptest.Fault{Kind: umptest.EchoRequest}, check: definite},
		hostile{name: "HTMLPage", fault: umptest.Fault{Kind: umptest.HTMLPage}, check: definite},
		// A write that applied may succeed with zero values (see the
		// answer classification); a read must fail.
		hostile{name: "OddData", fault: umptest.Fault{Kind: umptest.OddData},
			check: func(t *testing.T, call hostileCall, err error) {
				if !call.write {
					require.Error(t, err, call.name)
				}
			}},
		// 5 MiB against the default cap of 4 MiB; on every call, an
		// answer over a small cap, which costs less to read and redact
		// (the race detector slows both tenfold).
		hostile{name: "HugeAnswer5MiB", fault: umptest.Fault{Kind: umptest.HugeAnswer, Size: 5 << 20}, check: definite,
			only: func(call hostileCall) bool { return call.name == "Member.Get (3.2)" },
			opts: []ump.Option{ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1})}},
		hostile{name: "HugeAnswer", fault: umptest.Fault{Kind: umptest.HugeAnswer, Size: 64 << 10}, check: definite,
			opts: []ump.Option{ump.WithMaxResponseBytes(4 << 10)}},
		hostile{name: "MalformedBody", fault: umptest.Fault{Kind: umptest.MalformedBody}, check: definite},
		hostile{name: "Slow", fault: umptest.Fault{Kind: umptest.Delay, Delay: 10 * time.Second},
			opts: []ump.Option{ump.WithTimeout(30 * time.Millisecond)}, check: definite},
	)
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			h := newHostile(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net only
			defer cancel()
			if f.fault.Kind == umptest.Redirect {
				f.fault.Location = h.away.URL
			}
			h.srv.Fail(umptest.AnyMethod, f.fault)
			for _, call := range hostileCalls {
				if f.only != nil && !f.only(call) {
					continue
				}
				c, tok := h.client(f.opts...)
				err := h.run(ctx, c, tok, call)
				if f.check != nil {
					f.check(t, call, err)
				}
			}
			h.srv.ClearFaults()
			settle(h.srv)
			h.check()
		})
	}
}

// TestRedirectToAnotherHostIsRefused: with the SDK's own transport, a
// redirect of any kind to another host reaches nothing there, fails with a
// *ResponseError naming the status and the Location's host only, and a
// score change it answered reads as neither done nor applied.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	for _, status := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv, c, ctx := e2e(t)
			away := newElsewhere(t)
			openID := srv.AddMember(umptest.Member{Phone: hosPhone, Score: 100})
			_, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}) // a token first, undisturbed
			require.NoError(t, err)
			srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.Redirect, Status: status, Location: away.URL + "/elsewhere?keep=1"})

			res, err := c.Score.Change(ctx, changeRequest(openID, "R-"+fmt.Sprint(status), 10, ump.EventAdd))
			require.Nil(t, res, "a redirect is no result")
			var respErr *ump.ResponseError
			require.ErrorAs(t, err, &respErr)
			require.Equal(t, status, respErr.HTTPStatus)
			require.NotErrorIs(t, err, ump.ErrOutcomeUnknown)
			awayURL, _ := url.Parse(away.URL)
			require.Contains(t, err.Error(), awayURL.Host, "the error names the host")
			for _, s := range []string{"keep=1", "/elsewhere", "access_token", "sign", "FAKE"} {
				require.NotContains(t, fmt.Sprintf("%+v", err), s)
			}
			require.Zero(t, away.hits.Load(), "a request reached another host")
			require.EqualValues(t, 100, srv.Balance(openID), "nothing applied")
		})
	}
}

// TestOddTokenAnswerQuotesNoToken: a token answer whose fields have the
// wrong shape, holding a new token and a phone number, shows no part of
// them in the error or the debug log (a decoding error once quoted 30 of a
// token's 34 characters).
func TestOddTokenAnswerQuotesNoToken(t *testing.T) {
	const token = "at9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	var hits atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, `{"success":true,"data":{"access_token":{"value":%q,"phone":%q},"refresh_token":[%q],"expire_in":%q}}`,
			token, hosPhone, token, token)
	}))
	t.Cleanup(gw.Close)
	var logs logtest.Buffer
	c, err := ump.NewClient("app1", "app-secret-0123456789", ump.WithBaseURL(gw.URL),
		ump.WithLogger(logtest.DebugLogger(&logs)))
	require.NoError(t, err)
	_, err = c.Auth.Obtain(context.Background())
	require.Error(t, err)
	require.EqualValues(t, 1, hits.Load())
	texts := append(strings.Split(logs.String(), "\n"), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	var respErr *ump.ResponseError
	if errors.As(err, &respErr) {
		texts = append(texts, fmt.Sprintf("%#v", respErr), respErr.Sample, respErr.Err.Error())
	}
	logtest.RequireNoneShown(t, texts, []string{token[:12], token[len(token)-12:], hosPhone, "app-secret-0123456789"})
}
