package ump_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greedc/ump-go/internal/testutil/logtest"

	"github.com/stretchr/testify/require"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// credentialRecorder is a transport that notes every credential and sign the
// client sends, so the test knows what must never be printed.
type credentialRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen map[string]bool
}

func (r *credentialRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	r.mu.Lock()
	for _, k := range []string{"access_token", "refresh_token", "sign"} {
		if v := q.Get(k); v != "" {
			r.seen[v] = true
		}
	}
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *credentialRecorder) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.seen))
	for v := range r.seen {
		out = append(out, v)
	}
	return out
}

// Personal data the calls carry.
const (
	redPhone   = "13712345678" // an existing member's
	redPhone2  = "13987654321" // a member the test registers
	redPhone3  = "13500001111" // nobody's
	redIDCard  = "440402199001011234"
	redIDCard2 = "11010519491231002X"
	redOrderID = "M05833549" // a passport number, as in 4.1's example
)

// TestNothingSecretReachesLogsOrErrorsOverTheGateway exercises every call
// of the SDK against the test gateway with debug logging on: successes,
// refusals, a token refresh and an expired token, then every fault kind.
// No log line, error text or panic message may hold the app secret, an
// access or refresh token, a sign, a full phone number or an identity
// number.
func TestNothingSecretReachesLogsOrErrorsOverTheGateway(t *testing.T) {
	var logs logtest.Buffer
	logger := logtest.DebugLogger(&logs)
	srv := umptest.NewServer(umptest.WithSeed(3))
	t.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	rec := &credentialRecorder{base: tr, seen: map[string]bool{}}
	store := ump.NewMemoryTokenStore()
	client := func(opts ...ump.Option) *ump.Client {
		return srv.Client(append([]ump.Option{ump.WithLogger(logger), ump.WithTokenStore(store),
			ump.WithHTTPClient(&http.Client{Transport: rec}), ump.WithRetry(fastRetry)}, opts...)...)
	}
	c := client()
	openID := srv.AddMember(umptest.Member{Phone: redPhone, IDCard: redIDCard, RealName: "张三", Score: 5000})
	ctx := context.Background()

	var texts []string // every error text and panic message
	try := func(name string, f func() error) {
		defer func() {
			if p := recover(); p != nil {
				texts = append(texts, fmt.Sprint(p))
				t.Errorf("%s panicked: %v", name, p)
			}
		}()
		if err := f(); err != nil {
			texts = append(texts, err.Error())
		}
	}

	// Every call, on a healthy gateway. Members are named by phone wherever
	// the document allows it.
	var statementID, couponCode string
	suite := func(c *ump.Client, round int) {
		n := func(s string) string { return fmt.Sprintf("%s-%d", s, round) }
		try("Member.Create", func() error {
			_, err := c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "p1", Nickname: "李四", Phone: redPhone2,
				IDCard: redIDCard2, RealName: "李四"})
			return err
		})
		try("Member.Get", func() error { _, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: redPhone}); return err })
		try("Member.Get unknown", func() error { _, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: redPhone3}); return err })
		try("Member.GenerateCode", func() error {
			code, err := c.Member.GenerateCode(ctx, redPhone)
			if err == nil {
				_, err = c.Member.GetByCode(ctx, code)
			}
			return err
		})
		try("Member.ListLevels", func() error { _, err := c.Member.ListLevels(ctx, &ump.PageRequest{}); return err })
		try("Member.AllLevels", func() error {
			for _, err := range c.Member.AllLevels(ctx, &ump.PageRequest{PageSize: 3}) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		try("Score.Change", func() error {
			res, err := c.Score.Change(ctx, changeRequest(redPhone, n("SC"), 100, ump.EventAdd))
			if err == nil && res.StatementID != "" {
				statementID = res.StatementID
			}
			return err
		})
		try("Score.Change insufficient", func() error {
			_, err := c.Score.Change(ctx, changeRequest(redPhone, n("SC-big"), 1e9, ump.EventSubtract))
			return err
		})
		try("Score.Rollback", func() error {
			_, err := c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: redPhone, StatementID: statementID,
				RollbackScore: 10, ChangeID: ump.NewChangeID()})
			return err
		})
		try("Score.Resolve", func() error {
			_, err := c.Score.Resolve(ctx, changeRequest(redPhone, n("SR"), 5, ump.EventAdd))
			return err
		})
		try("Score.Records", func() error {
			_, err := c.Score.Records(ctx, &ump.ScoreRecordsRequest{OpenID: redPhone})
			return err
		})
		try("Score.AllRecords", func() error {
			for _, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: redPhone, PageRequest: ump.PageRequest{PageSize: 5}}) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		sale := ump.OrderDetails{OrderNo: n("S"), Phone: redPhone, ConsumeDate: time.Now(), OrderAmount: ump.Yuan(99, 50),
			OrderScore: 99, CustomerIDType: 14, CustomerIDTypeName: "护照", CustomerIDNumber: redOrderID, VIPName: "张三"}
		try("Order.SyncConsume", func() error {
			_, err := c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: sale})
			return err
		})
		try("Order.ResolveConsume", func() error {
			_, err := c.Order.ResolveConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: sale})
			return err
		})
		ret := sale
		ret.OrderNo, ret.OrderScore, ret.CustomerIDNumber = n("R"), 9, redIDCard
		try("Order.SyncRefund", func() error {
			_, err := c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: ret, ParentOrderNo: sale.OrderNo})
			return err
		})
		try("Order.ResolveRefund", func() error {
			_, err := c.Order.ResolveRefund(ctx, &ump.RefundOrderRequest{OrderDetails: ret, ParentOrderNo: sale.OrderNo})
			return err
		})
		try("Order.SyncRefund unknown parent", func() error {
			bad := ret
			bad.OrderNo = n("R-bad")
			_, err := c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: bad, ParentOrderNo: "nope"})
			return err
		})
		try("Coupon.CreateTemplate", func() error {
			_, err := c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{ThirdCouponID: n("T"), Name: "券", DiscountFee: 500,
				Rules: "无门槛", FixedTerm: 7})
			return err
		})
		try("Coupon.Give", func() error {
			_, err := c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: n("T"), Number: 1,
				CouponSet: []ump.CouponGrant{{OpenID: redPhone, ParamsType: ump.ParamsPhone, CouponNumber: n("CN")}}})
			if err == nil {
				couponCode = n("CN")
			}
			return err
		})
		try("Coupon.SyncStatus", func() error {
			_, err := c.Coupon.SyncStatus(ctx, &ump.CouponStatusRequest{ThirdCouponCode: couponCode, OpenID: redPhone, Status: ump.CouponValid})
			return err
		})
		try("Coupon.Verify", func() error {
			return c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: redPhone, OrderNo: sale.OrderNo, ThirdCouponCodes: []string{couponCode}})
		})
		try("Coupon.ListUserCoupons", func() error {
			_, err := c.Coupon.ListUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: redPhone})
			return err
		})
		try("Coupon.AllUserCoupons", func() error {
			for _, err := range c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: redPhone, PageRequest: ump.PageRequest{PageSize: 2}}) {
				if err != nil {
					return err
				}
			}
			return nil
		})
		try("SMS.SendCode", func() error { return c.SMS.SendCode(ctx, redPhone) })
		try("SMS.VerifyCode", func() error {
			code, _ := srv.LastSMSCode(redPhone)
			return c.SMS.VerifyCode(ctx, redPhone, code)
		})
		try("SMS.VerifyCode wrong", func() error { return c.SMS.VerifyCode(ctx, redPhone, "000000") })
	}

	suite(c, 0)
	// Tokens: a refresh, a status report, an expired access token.
	try("Auth.Refresh", func() error {
		tok, err := store.Load(ctx, srv.AppID)
		if err == nil {
			_, err = c.Auth.Refresh(ctx, tok.RefreshToken)
		}
		return err
	})
	try("Auth.Status", func() error {
		st, err := c.Auth.Status(ctx)
		logger.Info("token status", "status", st)
		return err
	})
	try("Auth.Obtain refused", func() error { _, err := c.Auth.Obtain(ctx); return err })
	srv.ExpireAccessTokens()
	try("Member.Get after expiry", func() error { _, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}); return err })

	// Every fault kind on every call.
	for round, kind := range faultKinds {
		if kind == umptest.Delay {
			continue
		}
		srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: kind})
		suite(c, round+1)
		srv.ClearFaults()
	}
	// Delay, with a short attempt timeout, on a call of each kind.
	slow := client(ump.WithTimeout(50 * time.Millisecond))
	srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.Delay, Delay: 5 * time.Second})
	try("Member.Get slow", func() error { _, err := slow.Member.Get(ctx, &ump.MemberQuery{Phone: redPhone}); return err })
	try("Score.Change slow", func() error {
		_, err := slow.Score.Change(ctx, changeRequest(redPhone, "SC-slow", 1, ump.EventAdd))
		return err
	})
	try("SMS.SendCode slow", func() error { return slow.SMS.SendCode(ctx, redPhone) })
	srv.ClearFaults()

	// Clocks off the gateway's, sharing the token: corrected (a refusal,
	// a WARN, a resend), not corrected (ErrClockSkew), and unmeasurable
	// (answers without a Date header).
	skewed := func(d time.Duration, opts ...ump.Option) *ump.Client {
		return client(append([]ump.Option{ump.WithClock(func() time.Time { return srv.Clock().Now().Add(d) })}, opts...)...)
	}
	try("Member.Get, clock +5s", func() error {
		_, err := skewed(5*time.Second).Member.Get(ctx, &ump.MemberQuery{Phone: redPhone})
		return err
	})
	try("Score.Change, clock -5s, no correction", func() error {
		_, err := skewed(-5*time.Second, ump.WithClockSkewCorrection(false)).Score.Change(ctx, changeRequest(redPhone, "SC-skew", 1, ump.EventAdd))
		return err
	})
	srv.Fail(umptest.AnyMethod, umptest.Fault{Kind: umptest.NoDate})
	try("Member.Get, clock +5s, no Date", func() error {
		_, err := skewed(5*time.Second).Member.Get(ctx, &ump.MemberQuery{Phone: redPhone})
		return err
	})
	srv.ClearFaults()
	settle(srv)

	// What must never show.
	secrets := append(rec.values(), srv.AppSecret, redPhone, redPhone2, redPhone3, redIDCard, redIDCard2, redOrderID)
	require.Greater(t, len(secrets), 100, "signs, tokens and personal data were sent")
	out := logs.String()
	for _, want := range []string{"level=DEBUG", "ump: call", "ump: retrying", "ump: score change left unresolved",
		"ump: refreshing the access token", "ump: local clock is off the gateway's", "re-stamped and sent again"} {
		require.Contains(t, out, want, "the scenario did not log what it should have")
	}
	require.Greater(t, len(texts), 100, "failures of every kind were met")
	for _, want := range []string{"outcome unknown", "HTTP 502", "not a gateway envelope", "error 150003", "error 140005", "transport",
		"clock skew: the local clock is", "the local clock could not be checked"} {
		require.Contains(t, strings.Join(texts, "\n"), want)
	}
	logtest.RequireNoneShown(t, append(strings.Split(out, "\n"), texts...), secrets)
}
