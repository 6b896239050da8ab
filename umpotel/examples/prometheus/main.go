// Command prometheus serves an ump.Client's metrics at /metrics for
// Prometheus to scrape, with no OpenTelemetry collector: umpotel's hooks
// record into an OpenTelemetry meter provider whose reader is the
// OpenTelemetry Prometheus exporter.
//
//	cd umpotel && go run ./examples/prometheus
//	curl -s localhost:9464/metrics | grep ^ump_
//
// It runs an in-process test gateway (package umptest) and looks a member
// up there once a second, so that the metrics move. In a service, the three
// lines of instrument are all it takes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umpotel"
	"github.com/greedc/ump-go/umptest"
)

func main() {
	addr := flag.String("addr", "localhost:9464", "address to serve /metrics on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, ln, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// instrument wires umpotel to Prometheus: the exporter registers with reg
// and is the meter provider's reader. Shut the provider down, and close the
// Instrumentation, when the client is done.
func instrument(reg prometheus.Registerer) (*sdkmetric.MeterProvider, *umpotel.Instrumentation, error) {
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	in, err := umpotel.New(umpotel.WithMeterProvider(mp))
	if err != nil {
		return nil, nil, errors.Join(err, mp.Shutdown(context.Background()))
	}
	return mp, in, nil
}

// demo is a test gateway with one member, a client of it reporting to a
// Prometheus registry, and the handler serving that registry.
type demo struct {
	gateway *umptest.Server
	client  *ump.Client
	openID  string
	metrics http.Handler
	close   func() error
}

func newDemo() (*demo, error) {
	reg := prometheus.NewRegistry()
	mp, in, err := instrument(reg)
	if err != nil {
		return nil, err
	}
	gw := umptest.NewServer()
	d := &demo{
		gateway: gw,
		client:  gw.Client(ump.WithHooks(in.Hooks())),
		openID:  gw.AddMember(umptest.Member{Phone: "13800138000", Nickname: "Prometheus"}),
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	d.close = func() error {
		gw.Close()
		return errors.Join(in.Close(), mp.Shutdown(context.Background()))
	}
	return d, nil
}

// lookup is the demo's traffic: one member lookup.
func (d *demo) lookup(ctx context.Context) error {
	_, err := d.client.Member.Get(ctx, &ump.MemberQuery{OpenID: d.openID})
	return err
}

// run serves /metrics on ln and looks the member up once a second until
// ctx ends.
func run(ctx context.Context, ln net.Listener, out io.Writer) error {
	d, err := newDemo()
	if err != nil {
		return err
	}
	defer d.close()
	mux := http.NewServeMux()
	mux.Handle("/metrics", d.metrics)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(out, "metrics at http://%s/metrics\n", ln.Addr())

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := d.lookup(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(out, "lookup failed:", err)
		}
		select {
		case <-ctx.Done():
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return hs.Shutdown(shutdown)
		case err := <-served:
			return err
		case <-tick.C:
		}
	}
}
