// Command pos-order-sync is a till that keeps selling while the network is
// down: each sale and return goes into an outbox on disk at the checkout
// (package outbox; nothing is sent), and a drainer delivers them to the
// platform when it answers again, each exactly once, a return after its
// sale.
//
//	go run ./examples/pos-order-sync
//
// With no settings it runs against an in-process test gateway with two
// members: it records the day with the network down, tries to drain
// (unreachable: nothing is lost), then brings the network back and drains,
// with the gateway losing the answer to one sale on the way to show
// that a lost answer is settled, not doubled. Against a real gateway
// (UMP_BASE_URL, UMP_APP_ID, UMP_APP_SECRET, see examples/quickstart),
// UMP_PHONE names the members, comma-separated. UMP_OUTBOX_FILE keeps the
// outbox in that file (by default a temporary one); "go run ./cmd/ump
// outbox status --store bolt:FILE" inspects it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/examples/internal/gateway"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/umptest"
)

// envOutboxFile names the outbox file.
const envOutboxFile = "UMP_OUTBOX_FILE"

func main() {
	gateway.Main(time.Minute, func(ctx context.Context) int {
		return run(ctx, os.Getenv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	gw, code := gateway.Setup("pos-order-sync", getenv, stderr)
	if gw == nil {
		return code
	}
	defer gw.Close()
	fmt.Fprintln(stdout, "mode:", gw.Mode)

	path := getenv(envOutboxFile)
	if path == "" {
		dir, err := os.MkdirTemp("", "pos-order-sync")
		if err != nil {
			fmt.Fprintln(stderr, "pos-order-sync:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "outbox.db")
	}
	store, err := boltstore.Open(path)
	if err != nil {
		fmt.Fprintln(stderr, "pos-order-sync:", err)
		return 1
	}
	defer store.Close()
	ob := outbox.New(store)

	phones, batch := gw.Phones, ump.NewChangeID()[:6]
	srv := gw.Sandbox
	if srv != nil {
		phones, batch = []string{"13800000001", "13800000002"}, "001"
		for _, p := range phones {
			srv.AddMember(umptest.Member{Phone: p})
		}
	}

	fmt.Fprintln(stdout, "checkout: recording the day's sales into the outbox")
	if err := record(ctx, ob, todaysSales(batch, phones, time.Now()), stdout); err != nil {
		fmt.Fprintln(stderr, "pos-order-sync:", err) // the disk, not the network: stop selling
		return 1
	}

	if srv != nil {
		// The network is down: the drainer probes, and every job waits.
		offline := srv.Client(ump.WithHTTPClient(networkDown()), ump.WithRetry(ump.RetryPolicy{MaxAttempts: 1}))
		_, err := outbox.NewDrainer(store, offline).DrainOnce(ctx)
		pending, _ := ob.Pending(ctx)
		if errors.Is(err, outbox.ErrUnreachable) {
			fmt.Fprintf(stdout, "network down: the drain stopped, gateway unreachable; %d still queued, nothing lost\n", pending)
		}
		// Back up, and the platform's answer to one sale is lost on its
		// way: the drainer settles it by resending under the same order_no,
		// which the platform reads as a duplicate.
		srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
		fmt.Fprintln(stdout, "network back: draining (the answer to one sale will be lost)")
	}
	report, err := drain(ctx, store, gw.Client, stdout)
	fmt.Fprintf(stdout, "delivered %d, refused %d, still queued %d\n", report.Delivered, report.Refused, report.Pending)
	if err != nil {
		fmt.Fprintln(stderr, "pos-order-sync:", err)
		return 1
	}
	return 0
}

// Sale is one line of the till's export: a sale, or a return of one.
type Sale struct {
	OrderNo string
	// RefundOf is the order_no of the sale a return takes back; empty for a
	// sale.
	RefundOf string
	Phone    string
	At       time.Time
	// Total is the amount as the till prints it, such as "128.50".
	Total  string
	Points int64
	Goods  []ump.Material
}

// record puts each sale in the outbox, printing a line per sale. A line the
// SDK's validation refuses is not queued (fix it at the till); an error
// from the store itself (a full disk) stops the recording: that sale was
// not kept.
func record(ctx context.Context, ob *outbox.Outbox, sales []Sale, out io.Writer) error {
	for _, s := range sales {
		total, err := ump.ParseAmount(s.Total) // exact: "19.999" is an error, not 20.00
		if err != nil {
			fmt.Fprintf(out, "rejected   %s: not queued: total %s is not an amount of yuan and fen\n", s.OrderNo, s.Total)
			continue
		}
		d := ump.OrderDetails{OrderNo: s.OrderNo, Phone: s.Phone, ConsumeDate: s.At,
			OrderAmount: total, OrderScore: s.Points, Materials: s.Goods}
		points := s.Points
		if s.RefundOf == "" {
			_, err = ob.EnqueueConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: d})
		} else {
			points = -points
			_, err = ob.EnqueueRefund(ctx, &ump.RefundOrderRequest{OrderDetails: d, ParentOrderNo: s.RefundOf})
		}
		var invalid *ump.ValidationError
		switch {
		case err == nil:
			fmt.Fprintf(out, "queued     %s: %s yuan, %+d points for %s\n", s.OrderNo, total, points, mask(s.Phone))
		case errors.As(err, &invalid):
			var fields []string
			for _, f := range invalid.Fields {
				fields = append(fields, f.Field+" "+f.Reason)
			}
			fmt.Fprintf(out, "rejected   %s: not queued: %s\n", s.OrderNo, strings.Join(fields, "; "))
		default:
			return fmt.Errorf("%s not recorded: %w", s.OrderNo, err)
		}
	}
	return nil
}

// Report counts what a drain did.
type Report struct {
	Delivered, Refused, Pending int
}

// drain delivers the outbox until it is empty, printing a line per
// delivered or refused job (in the order they finish: members are
// delivered concurrently).
func drain(ctx context.Context, store outbox.Store, c *ump.Client, out io.Writer) (Report, error) {
	var mu sync.Mutex
	d := outbox.NewDrainer(store, c, outbox.WithBackoff(10*time.Millisecond, time.Second), outbox.WithPollInterval(10*time.Millisecond),
		outbox.WithObserver(func(e outbox.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Outcome {
			case outbox.StateDelivered:
				note := ""
				if e.Receipt.AlreadyApplied {
					note = " (its lost answer settled: the platform had it)"
				}
				fmt.Fprintf(out, "delivered  %s%s\n", e.Job.Key(), note)
			case outbox.StateDead:
				fmt.Fprintf(out, "refused    %s: platform error %d: %s\n", e.Job.Key(), e.Job.Code, e.Job.Message)
			}
		}))
	st, err := d.DrainOnce(ctx)
	r := Report{Delivered: st.Delivered, Refused: st.Dead}
	if s, serr := store.Stats(context.WithoutCancel(ctx)); serr == nil {
		r.Pending = s.Queued
	}
	return r, err
}

// todaysSales is the till's export: two sales, two lines typed wrong, and
// a partial return of the second sale.
func todaysSales(batch string, phones []string, now time.Time) []Sale {
	no := func(n string) string { return "POS-" + batch + "-" + n }
	phone := func(i int) string { return phones[i%len(phones)] }
	return []Sale{
		{OrderNo: no("1"), Phone: phone(0), At: now.Add(-50 * time.Minute), Total: "128.50", Points: 128,
			Goods: []ump.Material{{Name: "咖啡豆 500g", BarCode: "6901234567892", Type: "1", BaseUnit: "袋", Price: ump.Yuan(128, 50)}}},
		{OrderNo: no("2"), Phone: phone(1), At: now.Add(-40 * time.Minute), Total: "45", Points: 45},
		{OrderNo: no("3"), Phone: "138 0000 0003", At: now.Add(-30 * time.Minute), Total: "12.00", Points: 12},
		{OrderNo: no("4"), Phone: phone(0), At: now.Add(-20 * time.Minute), Total: "19.999", Points: 20},
		{OrderNo: no("2R"), RefundOf: no("2"), Phone: phone(1), At: now.Add(-10 * time.Minute), Total: "15.00", Points: 15},
	}
}

// networkDown is an HTTP client whose every dial fails, as with the cable
// out.
func networkDown() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(_ context.Context, network, _ string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ENETUNREACH}
		},
	}}
}

// mask hides the middle of a phone number: 138****0001.
func mask(phone string) string {
	if len(phone) < 7 {
		return "****"
	}
	return phone[:3] + "****" + phone[len(phone)-4:]
}
