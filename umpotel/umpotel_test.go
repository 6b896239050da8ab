package umpotel_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umpotel"
	"github.com/greedc/ump-go/umptest"
)

// credentialRecorder is an http.RoundTripper that remembers every
// access_token, refresh_token and sign the client sent.
type credentialRecorder struct {
	mu     sync.Mutex
	values map[string]string // value -> the query parameter it was sent as
	next   http.RoundTripper
}

func (r *credentialRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	r.mu.Lock()
	for _, name := range []string{"access_token", "refresh_token", "sign"} {
		if v := q.Get(name); v != "" {
			r.values[v] = name
		}
	}
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *credentialRecorder) sent() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.values))
	for k, v := range r.values {
		out[k] = v
	}
	return out
}

// rig is a test gateway, a client reporting through umpotel to an
// in-memory span exporter and a manual metric reader, and the recorder of
// the credentials the client sent.
type rig struct {
	srv     *umptest.Server
	client  *ump.Client
	spans   *tracetest.InMemoryExporter
	reader  *sdkmetric.ManualReader
	tracer  trace.Tracer
	creds   *credentialRecorder
	instrum *umpotel.Instrumentation
}

func newRig(t *testing.T) *rig {
	t.Helper()
	srv := umptest.NewServer()
	t.Cleanup(srv.Close)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	in, err := umpotel.New(umpotel.WithTracerProvider(tp), umpotel.WithMeterProvider(mp))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, in.Close()) })
	creds := &credentialRecorder{values: map[string]string{}, next: http.DefaultTransport}
	c := srv.Client(ump.WithHTTPClient(&http.Client{Transport: creds}), ump.WithHooks(in.Hooks()),
		ump.WithRetry(ump.RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}))
	return &rig{srv: srv, client: c, spans: spans, reader: reader, tracer: tp.Tracer("test"), creds: creds, instrum: in}
}

func (r *rig) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	return rm
}

// journey makes the calls of examples/quickstart (journey.go), with a lost
// answer to the score change and a proxy's error page on a lookup, and
// returns the gateway methods of the SDK calls it made, in order.
func journey(t *testing.T, ctx context.Context, r *rig) []string {
	t.Helper()
	c, srv := r.client, r.srv
	var calls []string
	made := func(method string, err error) {
		t.Helper()
		require.NoError(t, err, method)
		calls = append(calls, method)
	}
	const phone = "13800138000"

	_, err := c.Auth.AccessToken(ctx) // obtains: a token call, no SDK call of its own
	require.NoError(t, err)
	openID, err := c.Member.Create(ctx, &ump.CreateMemberRequest{ProjectID: "18756", Nickname: "Quick Start", Phone: phone})
	made("wk.user.info.add", err)
	_, err = c.Member.Get(ctx, &ump.MemberQuery{Phone: phone})
	made("wk.user.info.query", err)
	srv.Fail("wk.user.info.query", umptest.Fault{Kind: umptest.HTMLPage, Times: 1}) // echoes access_token and sign
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	made("wk.user.info.query", err)
	code, err := c.Member.GenerateCode(ctx, openID)
	made("wk.user.code.generate", err)
	_, err = c.Member.GetByCode(ctx, code)
	made("wk.user.code.parsing", err)

	sale := "QS-001-1"
	now := srv.Clock().Now()
	_, err = c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{
		OrderNo: sale, OpenID: openID, ConsumeDate: now, OrderAmount: ump.Yuan(128, 50), OrderScore: 128, Desc: "quickstart sale"}})
	made("wk.user.consume.order", err)
	_, err = c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{ParentOrderNo: sale, OrderDetails: ump.OrderDetails{
		OrderNo: sale + "R", OpenID: openID, ConsumeDate: now, OrderAmount: ump.Yuan(28, 50), OrderScore: 28, Desc: "quickstart return"}})
	made("wk.user.refund.order", err)

	ch, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 50, OutBizNo: "QS-001-bonus",
		ChangeReason: "quickstart bonus", ChangeEvent: ump.EventAdd, ChangeID: "QS-001-CHANGE"})
	made("wk.user.event.score.change", err)
	// The access token expires: the next call is refused, refreshes, and
	// goes through.
	srv.ExpireAccessTokens()
	_, err = c.Score.Rollback(ctx, &ump.ScoreRollbackRequest{OpenID: openID, StatementID: ch.StatementID, RollbackScore: 50,
		ChangeID: ump.NewChangeID()})
	made("wk.user.event.score.rollback", err)
	// A change whose answer is lost.
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	_, err = c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: 5, OutBizNo: "QS-001-lost",
		ChangeReason: "quickstart lost answer", ChangeEvent: ump.EventAdd, ChangeID: "QS-001-LOST"})
	made("wk.user.event.score.change", err)
	pages := 0
	for _, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: openID, PageRequest: ump.PageRequest{PageSize: 3}}) {
		require.NoError(t, err)
		pages++
		if pages == 4 {
			break // the first page of 3, then one of the second
		}
	}
	calls = append(calls, "wk.user.score.record", "wk.user.score.record")

	tpl := "QS-001-TPL"
	_, err = c.Coupon.CreateTemplate(ctx, &ump.CouponTemplateRequest{ThirdCouponID: tpl, Category: ump.CouponOrderReduction,
		Name: "10 off 100", DiscountFee: 1000, MinimumFee: 10000, Validity: ump.ValidDaysAfterReceipt, FixedTerm: 30, Rules: "r"})
	made("wk.coupon.template.add", err)
	numbers := []string{"QS-001-C1", "QS-001-C2"}
	_, err = c.Coupon.Give(ctx, &ump.GiveCouponsRequest{ThirdCouponID: tpl, Number: 1, CouponSet: []ump.CouponGrant{
		{OpenID: phone, ParamsType: ump.ParamsPhone, CouponNumber: numbers[0]},
		{OpenID: openID, ParamsType: ump.ParamsOpenID, CouponNumber: numbers[1]},
	}})
	made("wk.coupon.give", err)
	for _, err := range c.Coupon.AllUserCoupons(ctx, &ump.UserCouponsRequest{OpenID: openID, Status: ump.CouponValid}) {
		require.NoError(t, err)
	}
	calls = append(calls, "wk.coupon.user.list")
	err = c.Coupon.Verify(ctx, &ump.VerifyCouponsRequest{OpenID: openID, OrderNo: sale, ThirdCouponCodes: numbers[:1]})
	made("wk.coupon.verification", err)

	made("wk.sms.verify.send", c.SMS.SendCode(ctx, phone))
	smsCode, ok := srv.LastSMSCode(phone)
	require.True(t, ok)
	made("wk.sms.verify.judge", c.SMS.VerifyCode(ctx, phone, smsCode))

	// A send that goes unanswered behind a proxy: the outcome is unknown,
	// and the error's sample echoed the request's credentials.
	srv.Fail("wk.sms.verify.send", umptest.Fault{Kind: umptest.HTMLPage, Status: 502, Times: 1})
	err = c.SMS.SendCode(ctx, phone)
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	calls = append(calls, "wk.sms.verify.send")

	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	made("wk.user.info.query", err)
	return calls
}

func attr(attrs []attribute.KeyValue, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func isTokenCall(name string) bool {
	return name == "ump dss.auth.token.query" || name == "ump dss.auth.token.refresh"
}

func TestJourney(t *testing.T) {
	r := newRig(t)
	ctx, parent := r.tracer.Start(t.Context(), "journey")
	calls := journey(t, ctx, r)
	parent.End()

	stubs := r.spans.GetSpans()
	var names []string
	tokenSpans := 0
	for _, s := range stubs {
		switch {
		case s.Name == "journey":
			continue
		case isTokenCall(s.Name):
			tokenSpans++
		default:
			names = append(names, s.Name)
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent.SpanID(), "%s is a child of the caller's span", s.Name)
		}
		assert.Equal(t, trace.SpanKindClient, s.SpanKind, s.Name)
		assert.Equal(t, parent.SpanContext().TraceID(), s.SpanContext.TraceID(), s.Name)
	}
	want := make([]string, len(calls))
	for i, m := range calls {
		want[i] = "ump " + m
	}
	assert.Equal(t, want, names, "exactly one span per SDK call, named by gateway method")

	st := r.srv.Stats()
	assert.Equal(t, 1, st.TokenObtains)
	assert.Equal(t, 1, st.TokenRefreshes, "the expired token was refreshed once")
	assert.Equal(t, st.TokenObtains+st.TokenRefreshes, tokenSpans, "a span per token call")

	// The score change whose answer was lost: sent again under its
	// change_id, whose 150002 proves the first copy applied.
	var change tracetest.SpanStub
	for _, s := range stubs {
		if s.Name == "ump wk.user.event.score.change" {
			change = s
		}
	}
	outcome, _ := attr(change.Attributes, umpotel.OutcomeKey)
	assert.Equal(t, "already_applied", outcome.AsString())
	attempts, _ := attr(change.Attributes, umpotel.AttemptsKey)
	assert.Equal(t, int64(2), attempts.AsInt64(), "the lost change, the change again")
	var evMethods []string
	for _, ev := range change.Events {
		if ev.Name == "ump.attempt" {
			m, _ := attr(ev.Attributes, "rpc.method")
			evMethods = append(evMethods, m.AsString())
		}
	}
	assert.Equal(t, []string{"wk.user.event.score.change", "wk.user.event.score.change"}, evMethods)
	assert.Equal(t, codes.Unset, change.Status.Code)
	class, _ := attr(change.Attributes, umpotel.RetryClassKey)
	assert.Equal(t, "keyed", class.AsString())
	addr, _ := attr(change.Attributes, "server.address")
	assert.Equal(t, "127.0.0.1", addr.AsString())

	// The unanswered SMS send: unknown, an error span.
	last := stubs[len(stubs)-3] // before the last lookup and the journey
	require.Equal(t, "ump wk.sms.verify.send", last.Name)
	outcome, _ = attr(last.Attributes, umpotel.OutcomeKey)
	assert.Equal(t, "unknown", outcome.AsString())
	assert.Equal(t, codes.Error, last.Status.Code)
	status, _ := attr(last.Attributes, "http.response.status_code")
	assert.Equal(t, int64(502), status.AsInt64())

	rm := r.metrics(t)
	tokenCalls := map[string]int64{}
	var unknown int64
	var budget = map[string]int64{}
	var sawExpiry, sawCallDuration, sawAttemptDuration bool
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "ump.token.calls":
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					kind, _ := dp.Attributes.Value(umpotel.TokenKindKey)
					result, _ := dp.Attributes.Value(umpotel.TokenResultKey)
					tokenCalls[kind.AsString()+"/"+result.AsString()] += dp.Value
				}
			case "ump.client.call.outcome_unknown":
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					unknown += dp.Value
				}
			case "ump.token.budget.remaining":
				for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
					kind, _ := dp.Attributes.Value(umpotel.TokenKindKey)
					budget[kind.AsString()] = dp.Value
				}
			case "ump.token.expiry":
				sawExpiry = len(m.Data.(metricdata.Gauge[float64]).DataPoints) == 1
			case "rpc.client.call.duration":
				sawCallDuration = m.Unit == "s"
			case "http.client.request.duration":
				sawAttemptDuration = m.Unit == "s"
			}
		}
	}
	assert.Equal(t, map[string]int64{"obtain/ok": int64(st.TokenObtains), "refresh/ok": int64(st.TokenRefreshes)}, tokenCalls,
		"the token-call metric counts what the gateway issued")
	assert.Equal(t, int64(1), unknown, "the unanswered SMS send")
	assert.Equal(t, map[string]int64{"obtain": 0, "refresh": ump.RefreshesPerDay - 1}, budget)
	assert.True(t, sawExpiry, "token expiry gauge")
	assert.True(t, sawCallDuration, "call duration histogram")
	assert.True(t, sawAttemptDuration, "attempt duration histogram")

	scanRedaction(t, r, stubs, rm, []string{"QS-001-1", "QS-001-CHANGE", "QS-001-LOST", "QS-001-C1"})
}

// fullPhone matches a mainland mobile number, unmasked.
var fullPhone = regexp.MustCompile(`(?:^|\D)1[3-9]\d{9}(?:\D|$)`)

// scanRedaction fails if any span name, attribute, event or status, or any
// metric label, holds the app secret, a credential the client sent, a full
// mobile number or one of keys (request keys, left out by default).
func scanRedaction(t *testing.T, r *rig, stubs tracetest.SpanStubs, rm metricdata.ResourceMetrics, keys []string) {
	t.Helper()
	sent := r.creds.sent()
	kinds := map[string]int{}
	for _, name := range sent {
		kinds[name]++
	}
	require.NotZero(t, kinds["access_token"], "the recorder saw access tokens")
	require.NotZero(t, kinds["refresh_token"], "the recorder saw the refresh token")
	require.NotZero(t, kinds["sign"], "the recorder saw signs")

	var texts []string
	add := func(where string, attrs ...attribute.KeyValue) {
		for _, kv := range attrs {
			texts = append(texts, where+" "+string(kv.Key)+"="+kv.Value.Emit())
		}
	}
	for _, s := range stubs {
		texts = append(texts, "span name "+s.Name, "span status "+s.Status.Description)
		add("span "+s.Name, s.Attributes...)
		for _, ev := range s.Events {
			texts = append(texts, "event name "+ev.Name)
			add("event "+ev.Name, ev.Attributes...)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, set := range labelSets(m.Data) {
				add("metric "+m.Name, set.ToSlice()...)
			}
		}
	}
	require.Greater(t, len(texts), 200, "the scan saw the telemetry")
	sawStatus := false
	for _, text := range texts {
		sawStatus = sawStatus || strings.Contains(text, "span status ump:")
		assert.NotContains(t, text, r.srv.AppSecret, "app secret")
		for value, name := range sent {
			if !strings.Contains(text, value) {
				continue
			}
			t.Errorf("%s value sent by the client found in %q", name, text)
		}
		assert.False(t, fullPhone.MatchString(text), "full mobile number in %q", text)
		for _, k := range keys {
			assert.NotContains(t, text, k, "request key without IncludeKeys")
		}
	}
	assert.True(t, sawStatus, "error descriptions were scanned")
}

// labelSets returns the attribute sets of every data point of a metric.
func labelSets(data metricdata.Aggregation) []attribute.Set {
	var sets []attribute.Set
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Gauge[float64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[int64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			sets = append(sets, dp.Attributes)
		}
	default:
		panic(fmt.Sprintf("unexpected aggregation %T", data))
	}
	return sets
}

func TestIncludeKeysOnSpansOnly(t *testing.T) {
	r := newRig(t)
	h := r.instrum.Hooks()
	h.IncludeKeys = true
	c := r.srv.Client(ump.WithHooks(h))
	openID := r.srv.AddMember(umptest.Member{Phone: "13800138009"})
	r.srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
	_, err := c.Order.SyncConsume(t.Context(), &ump.ConsumeOrderRequest{OrderDetails: ump.OrderDetails{OrderNo: "K-1",
		OpenID: openID, ConsumeDate: r.srv.Clock().Now(), OrderAmount: ump.Yuan(1, 0), OrderScore: 1}})
	require.ErrorIs(t, err, ump.ErrOutcomeUnknown)
	stubs := r.spans.GetSpans()
	s := stubs[len(stubs)-1]
	require.Equal(t, "ump wk.user.consume.order", s.Name)
	key, ok := attr(s.Attributes, umpotel.RequestKeyKey)
	require.True(t, ok)
	assert.Equal(t, "order_no=K-1", key.AsString())
	assert.Contains(t, s.Status.Description, "order_no=K-1")
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			for _, set := range labelSets(m.Data) {
				_, has := set.Value(umpotel.RequestKeyKey)
				assert.False(t, has, "no key in metric %s", m.Name)
			}
		}
	}
}

func TestClockOffsetAndOutboxGauges(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	h := r.instrum.Hooks()
	h.ClockOffset(ctx, -1500*time.Millisecond) // as the client's clock measurement reports it
	r.client.ReportOutboxState(ctx, ump.OutboxState{Pending: 4, OldestAge: 90 * time.Second, DeadLetters: 1})

	got := map[string]float64{}
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Gauge[float64]:
				if len(d.DataPoints) > 0 {
					got[m.Name] = d.DataPoints[0].Value
				}
			case metricdata.Gauge[int64]:
				if len(d.DataPoints) > 0 {
					got[m.Name] = float64(d.DataPoints[0].Value)
				}
			}
		}
	}
	assert.Equal(t, map[string]float64{"ump.clock.offset": -1.5, "ump.outbox.pending": 4, "ump.outbox.oldest_age": 90,
		"ump.outbox.dead_letters": 1}, got)
}

func TestCloseStopsTokenGauges(t *testing.T) {
	r := newRig(t)
	_, err := r.client.Auth.AccessToken(t.Context())
	require.NoError(t, err)
	require.NoError(t, r.instrum.Close())
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "ump.token.budget.remaining" || m.Name == "ump.token.expiry" {
				t.Errorf("%s still reported after Close", m.Name)
			}
		}
	}
}
