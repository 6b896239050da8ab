package umpotel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umpotel"
	"github.com/greedc/ump-go/umptest"
)

// ExampleNew wires a client to OpenTelemetry. A service passes its own
// providers (or none, for otel's global ones); here an in-memory exporter
// and a manual reader show what one call records.
func ExampleNew() {
	gateway := umptest.NewServer()
	defer gateway.Close()
	openID := gateway.AddMember(umptest.Member{Phone: "13800000000"})

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	otelHooks, err := umpotel.New(umpotel.WithTracerProvider(tp), umpotel.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer otelHooks.Close()
	c, err := ump.NewClient(gateway.AppID, gateway.AppSecret, ump.WithBaseURL(gateway.URL), ump.WithHooks(otelHooks.Hooks()))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	if _, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}); err != nil {
		fmt.Println(err)
		return
	}

	for _, s := range spans.GetSpans() {
		fmt.Println("span:", s.Name)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "ump.token.calls" {
			fmt.Println("token calls:", m.Data.(metricdata.Sum[int64]).DataPoints[0].Value)
		}
	}
	// Output:
	// span: ump dss.auth.token.query
	// span: ump wk.user.info.query
	// token calls: 1
}
