// Package umpotel reports an ump.Client's work to OpenTelemetry: a span per
// call, with its attempts as events, and metrics of calls, attempts, unknown
// outcomes, token calls and budget, clock offset and a store-and-forward
// queue. It is an adapter over ump.Hooks and lives in its own module, so
// that the SDK's users who do not trace build no OpenTelemetry.
//
//	otelHooks, err := umpotel.New() // the global tracer and meter providers
//	...
//	defer otelHooks.Close()
//	c, err := ump.NewClient(appID, appSecret, ump.WithHooks(otelHooks.Hooks()))
//
// The span and metric names are listed in the module's README. Every value
// recorded comes from ump.Hooks, which hands over no secret, token or sign,
// masks phone and identity numbers, and leaves request keys (order_no,
// change_id) out unless ump.Hooks.IncludeKeys is set: then spans carry them
// as ump.request.key (never metrics, whose labels must stay few).
package umpotel

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/semconv/v1.39.0/httpconv"
	"go.opentelemetry.io/otel/semconv/v1.39.0/rpcconv"
	"go.opentelemetry.io/otel/trace"

	ump "github.com/greedc/ump-go"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/greedc/ump-go/umpotel"

// Attribute keys of the SDK's own, beside the semantic conventions'
// rpc.method, server.address, server.port, http.response.status_code,
// rpc.response.status_code (the gateway's error code) and error.type.
const (
	// RetryClassKey: when the call may be sent again ("safe", "keyed",
	// "busy-only", "never").
	RetryClassKey = attribute.Key("ump.retry_class")
	// OutcomeKey: how the call ended (ump.CallOutcome's names).
	OutcomeKey = attribute.Key("ump.outcome")
	// AttemptsKey: the requests sent for the call.
	AttemptsKey = attribute.Key("ump.attempts")
	// AttemptKey, SentKey and AttemptDurationKey describe one attempt
	// event.
	AttemptKey         = attribute.Key("ump.attempt")
	SentKey            = attribute.Key("ump.sent")
	AttemptDurationKey = attribute.Key("ump.attempt.duration")
	// RequestKeyKey: the request's key ("order_no=A1"), only with
	// ump.Hooks.IncludeKeys and only on spans.
	RequestKeyKey = attribute.Key("ump.request.key")
	// TokenKindKey ("obtain", "refresh") and TokenResultKey (an outcome's
	// name) describe a token call.
	TokenKindKey   = attribute.Key("ump.token.kind")
	TokenResultKey = attribute.Key("ump.token.result")
	// BudgetLeftKey: the day's token calls of the kind left.
	BudgetLeftKey = attribute.Key("ump.token.budget.remaining")
)

// rpcSystem names the RPC system for the semantic conventions.
var rpcSystem = semconv.RPCSystemNameKey.String("ump")

// durationBuckets are the semantic conventions' advice for durations in
// seconds (the SDK's default buckets suit milliseconds).
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Option configures New.
type Option func(*config)

type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	attrs []attribute.KeyValue
}

// WithTracerProvider sets where spans go; the default is otel's global
// provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	}
}

// WithMeterProvider sets where metrics go; the default is otel's global
// provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	}
}

// WithAttributes adds attrs to every span and metric, such as the app id
// when one process runs clients of several apps (one Instrumentation each).
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}

// Instrumentation records one client's calls. Build it with New, hand its
// Hooks to ump.WithHooks, and Close it when the client is done. Use one per
// client: its token and outbox gauges report one client's state.
type Instrumentation struct {
	tracer trace.Tracer
	attrs  []attribute.KeyValue

	callDuration    metric.Float64Histogram
	attemptDuration metric.Float64Histogram
	attempts        metric.Int64Histogram
	unknown         metric.Int64Counter
	tokenCalls      metric.Int64Counter
	clockOffset     metric.Float64Gauge
	outboxPending   metric.Int64Gauge
	outboxOldest    metric.Float64Gauge
	outboxDead      metric.Int64Gauge
	budgetLeft      metric.Int64ObservableGauge
	tokenExpiry     metric.Float64ObservableGauge
	registration    metric.Registration

	mu     sync.Mutex
	budget map[ump.TokenCall]int64 // budget left by kind, once known
	expiry time.Time               // the current access token's expiry, once known
}

// New returns an Instrumentation with its instruments created.
func New(opts ...Option) (*Instrumentation, error) {
	cfg := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	in := &Instrumentation{
		tracer: cfg.tp.Tracer(ScopeName, trace.WithInstrumentationVersion(ump.Version), trace.WithSchemaURL(semconv.SchemaURL)),
		attrs:  cfg.attrs,
		budget: map[ump.TokenCall]int64{},
	}
	m := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(ump.Version), metric.WithSchemaURL(semconv.SchemaURL))
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// The semantic conventions name these two; the rest are the SDK's own.
	callDuration, err := rpcconv.NewClientCallDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	in.callDuration = callDuration.Inst()
	attemptDuration, err := httpconv.NewClientRequestDuration(m, metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(err)
	in.attemptDuration = attemptDuration.Inst()
	in.attempts, err = m.Int64Histogram("ump.client.call.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Requests sent per call."),
		metric.WithExplicitBucketBoundaries(0, 1, 2, 3, 4, 5, 6, 8, 10))
	check(err)
	in.unknown, err = m.Int64Counter("ump.client.call.outcome_unknown", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that ended with an unknown outcome, to be settled (ump.ErrOutcomeUnknown)."))
	check(err)
	in.tokenCalls, err = m.Int64Counter("ump.token.calls", metric.WithUnit("{call}"),
		metric.WithDescription("Budgeted token calls (2.1 obtain, 2.2 refresh) by kind and result."))
	check(err)
	in.budgetLeft, err = m.Int64ObservableGauge("ump.token.budget.remaining", metric.WithUnit("{call}"),
		metric.WithDescription("Token calls of the kind left in today's budget (Beijing day)."))
	check(err)
	in.tokenExpiry, err = m.Float64ObservableGauge("ump.token.expiry", metric.WithUnit("s"),
		metric.WithDescription("When the current access token expires, as Unix time."))
	check(err)
	in.clockOffset, err = m.Float64Gauge("ump.clock.offset", metric.WithUnit("s"),
		metric.WithDescription("The gateway's clock minus the local clock, as last measured."))
	check(err)
	in.outboxPending, err = m.Int64Gauge("ump.outbox.pending", metric.WithUnit("{call}"),
		metric.WithDescription("Calls queued in the outbox, not yet forwarded."))
	check(err)
	in.outboxOldest, err = m.Float64Gauge("ump.outbox.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("How long the oldest queued call has waited."))
	check(err)
	in.outboxDead, err = m.Int64Gauge("ump.outbox.dead_letters", metric.WithUnit("{call}"),
		metric.WithDescription("Calls the outbox gave up on, kept for an operator."))
	check(err)
	if len(errs) == 0 {
		in.registration, err = m.RegisterCallback(in.observe, in.budgetLeft, in.tokenExpiry)
		check(err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return in, nil
}

// Close stops the token gauges' reports. The other instruments stay with
// the meter provider, which the caller shuts down.
func (in *Instrumentation) Close() error {
	if in.registration == nil {
		return nil
	}
	return in.registration.Unregister()
}

// Hooks returns the hooks to give ump.WithHooks. Set IncludeKeys on the
// result to put request keys on spans.
func (in *Instrumentation) Hooks() ump.Hooks {
	return ump.Hooks{
		CallStart:   in.callStart,
		CallDone:    in.callDone,
		AttemptDone: in.attemptDone,
		TokenCall:   in.tokenCall,
		ClockOffset: in.clockOffsetLearned,
		OutboxState: in.outboxState,
	}
}

func (in *Instrumentation) callStart(ctx context.Context, call ump.CallStartInfo) context.Context {
	attrs := make([]attribute.KeyValue, 0, 6+len(in.attrs))
	attrs = append(attrs, rpcSystem, semconv.RPCMethod(call.Method), RetryClassKey.String(call.RetryClass),
		semconv.ServerAddress(call.ServerAddress), semconv.ServerPort(call.ServerPort))
	if call.Key != "" {
		attrs = append(attrs, RequestKeyKey.String(call.Key))
	}
	attrs = append(attrs, in.attrs...)
	ctx, _ = in.tracer.Start(ctx, "ump "+call.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

func (in *Instrumentation) callDone(ctx context.Context, call ump.CallDoneInfo) {
	errType := errorType(call.Err, call.Code)
	outcome := OutcomeKey.String(call.Outcome.String())

	span := trace.SpanFromContext(ctx)
	end := make([]attribute.KeyValue, 0, 5)
	end = append(end, outcome, AttemptsKey.Int(call.Attempts))
	end = appendAnswer(end, call.HTTPStatus, call.Code, errType)
	span.SetAttributes(end...)
	if call.Err != nil {
		span.SetStatus(codes.Error, call.Err.Error())
	}
	span.End()

	attrs := make([]attribute.KeyValue, 0, 8+len(in.attrs))
	attrs = append(attrs, rpcSystem, semconv.RPCMethod(call.Method), semconv.ServerAddress(call.ServerAddress),
		semconv.ServerPort(call.ServerPort), outcome)
	if call.Code != 0 {
		attrs = append(attrs, semconv.RPCResponseStatusCode(strconv.FormatInt(call.Code, 10)))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	attrs = append(attrs, in.attrs...)
	in.callDuration.Record(ctx, call.Duration.Seconds(), metric.WithAttributes(attrs...))

	few := metric.WithAttributes(append([]attribute.KeyValue{semconv.RPCMethod(call.Method), outcome}, in.attrs...)...)
	in.attempts.Record(ctx, int64(call.Attempts), few)
	if call.Outcome == ump.CallUnknown {
		in.unknown.Add(ctx, 1, few)
	}
}

func (in *Instrumentation) attemptDone(ctx context.Context, a ump.AttemptDoneInfo) {
	errType := errorType(a.Err, a.Code)
	ev := make([]attribute.KeyValue, 0, 8)
	ev = append(ev, AttemptKey.Int(a.Attempt), semconv.RPCMethod(a.Method), SentKey.Bool(a.Sent),
		AttemptDurationKey.Float64(a.Duration.Seconds()))
	ev = appendAnswer(ev, a.HTTPStatus, a.Code, errType)
	trace.SpanFromContext(ctx).AddEvent("ump.attempt", trace.WithAttributes(ev...))

	attrs := make([]attribute.KeyValue, 0, 6+len(in.attrs))
	attrs = append(attrs, semconv.HTTPRequestMethodPost, semconv.ServerAddress(a.ServerAddress), semconv.ServerPort(a.ServerPort),
		semconv.RPCMethod(a.Method))
	if a.HTTPStatus != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(a.HTTPStatus))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	attrs = append(attrs, in.attrs...)
	in.attemptDuration.Record(ctx, a.Duration.Seconds(), metric.WithAttributes(attrs...))
}

func (in *Instrumentation) tokenCall(ctx context.Context, tc ump.TokenCallInfo) {
	kind, result := TokenKindKey.String(tc.Kind.String()), TokenResultKey.String(tc.Result.String())
	in.tokenCalls.Add(ctx, 1, metric.WithAttributes(append([]attribute.KeyValue{kind, result}, in.attrs...)...))
	trace.SpanFromContext(ctx).AddEvent("ump.token_call",
		trace.WithAttributes(kind, result, BudgetLeftKey.Int(tc.BudgetLeft)))
	in.mu.Lock()
	defer in.mu.Unlock()
	if tc.BudgetLeft >= 0 {
		in.budget[tc.Kind] = int64(tc.BudgetLeft)
	}
	if !tc.ExpiresAt.IsZero() {
		in.expiry = tc.ExpiresAt
	}
}

// observe reports the token gauges, once a token call made them known.
func (in *Instrumentation) observe(_ context.Context, o metric.Observer) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for kind, left := range in.budget {
		o.ObserveInt64(in.budgetLeft, left,
			metric.WithAttributes(append([]attribute.KeyValue{TokenKindKey.String(kind.String())}, in.attrs...)...))
	}
	if !in.expiry.IsZero() {
		o.ObserveFloat64(in.tokenExpiry, float64(in.expiry.UnixMilli())/1000, metric.WithAttributes(in.attrs...))
	}
	return nil
}

func (in *Instrumentation) clockOffsetLearned(ctx context.Context, offset time.Duration) {
	in.clockOffset.Record(ctx, offset.Seconds(), metric.WithAttributes(in.attrs...))
}

func (in *Instrumentation) outboxState(ctx context.Context, st ump.OutboxState) {
	attrs := metric.WithAttributes(in.attrs...)
	in.outboxPending.Record(ctx, int64(st.Pending), attrs)
	in.outboxOldest.Record(ctx, st.OldestAge.Seconds(), attrs)
	in.outboxDead.Record(ctx, int64(st.DeadLetters), attrs)
}

// appendAnswer adds what an answer said: its HTTP status, the gateway's
// code and the error's class, each only when there is one.
func appendAnswer(attrs []attribute.KeyValue, status int, code int64, errType string) []attribute.KeyValue {
	if status != 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if code != 0 {
		attrs = append(attrs, semconv.RPCResponseStatusCode(strconv.FormatInt(code, 10)))
	}
	if errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
	}
	return attrs
}

// errorType is the error.type of a failure: the gateway's code when it
// answered one, else a short class of the failure; "" for no failure. Its
// values are few, as metric labels must be.
func errorType(err error, code int64) string {
	var (
		transport *ump.TransportError
		response  *ump.ResponseError
	)
	switch {
	case err == nil:
		return ""
	case code != 0:
		return strconv.FormatInt(code, 10)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ump.ErrTokenBudgetExhausted):
		return "token_budget_exhausted"
	case errors.As(err, &transport):
		return "transport"
	case errors.As(err, &response):
		return "response"
	case errors.Is(err, ump.ErrOutcomeUnknown):
		return "outcome_unknown"
	}
	return "_OTHER"
}
