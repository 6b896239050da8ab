// Command pos-order-sync is a till's upload to the platform: it reports a
// batch of sales and returns (document section 4), so that members earn and
// lose points, and sorts the outcome into synced, to reconcile, and
// rejected.
//
//	go run ./examples/pos-order-sync
//
// With no settings it runs against an in-process test gateway with two
// members, and makes the gateway lose the answer to the first sale, to show
// what an unknown outcome looks like. Against a real gateway (UMP_BASE_URL,
// UMP_APP_ID, UMP_APP_SECRET, see examples/quickstart), UMP_PHONE names the
// members, comma-separated.
//
// Order calls are never repeated by the SDK once the request may have
// reached the gateway: a lost answer is ump.ErrOutcomeUnknown, and the order
// must be reconciled (does the platform have it?) before it is sent again.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/examples/internal/gateway"
	"github.com/greedc/ump-go/umptest"
)

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

	phones, batch := gw.Phones, ump.NewChangeID()[:6]
	if srv := gw.Sandbox; srv != nil {
		phones, batch = []string{"13800000001", "13800000002"}, "001"
		for _, p := range phones {
			srv.AddMember(umptest.Member{Phone: p})
		}
		// The first sale reaches the platform, but its answer is lost.
		srv.Fail("wk.user.consume.order", umptest.Fault{Kind: umptest.DropAfterApply, Times: 1})
		fmt.Fprintln(stdout, "sandbox: the answer to the first sale will be lost on its way back")
	}

	report, err := syncBatch(ctx, gw.Client, todaysSales(batch, phones, time.Now()), stdout)
	fmt.Fprintf(stdout, "synced %d, to reconcile %d %v, rejected %d\n",
		len(report.Synced), len(report.Reconcile), report.Reconcile, len(report.Rejected))
	if err != nil {
		fmt.Fprintln(stderr, "pos-order-sync:", err)
		return 1
	}
	if srv := gw.Sandbox; srv != nil {
		for _, no := range report.Reconcile {
			if o, ok := srv.Order(no); ok {
				fmt.Fprintf(stdout, "sandbox: the platform has %s (order_id %d): the answer was lost, not the order\n", no, o.ID)
			}
		}
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

// Report sorts a batch's orders by outcome.
type Report struct {
	// Synced are the orders the platform confirmed, or already had.
	Synced []string
	// Reconcile are the orders whose answer was lost: the platform may
	// have them or not. Find out before sending them again.
	Reconcile []string
	// Rejected are the orders refused, as "order_no: reason": fix, then
	// send again.
	Rejected []string
}

// syncBatch reports each sale in turn, printing a line per order. It stops
// early only when the gateway cannot be reached or ctx ends; the Report
// covers the orders handled so far.
func syncBatch(ctx context.Context, c *ump.Client, sales []Sale, out io.Writer) (Report, error) {
	var r Report
	reject := func(no, reason string) {
		r.Rejected = append(r.Rejected, no+": "+reason)
		fmt.Fprintf(out, "rejected   %s: %s\n", no, reason)
	}
	for _, s := range sales {
		total, err := ump.ParseAmount(s.Total) // exact: "19.999" is an error, not 20.00
		if err != nil {
			reject(s.OrderNo, "not sent: total "+s.Total+" is not an amount of yuan and fen")
			continue
		}
		d := ump.OrderDetails{OrderNo: s.OrderNo, Phone: s.Phone, ConsumeDate: s.At,
			OrderAmount: total, OrderScore: s.Points, Materials: s.Goods}
		points := s.Points
		if s.RefundOf == "" {
			_, err = c.Order.SyncConsume(ctx, &ump.ConsumeOrderRequest{OrderDetails: d})
		} else {
			points = -points
			_, err = c.Order.SyncRefund(ctx, &ump.RefundOrderRequest{OrderDetails: d, ParentOrderNo: s.RefundOf})
		}

		var invalid *ump.ValidationError
		var apiErr *ump.APIError
		switch {
		case err == nil:
			r.Synced = append(r.Synced, s.OrderNo)
			fmt.Fprintf(out, "synced     %s: %s yuan, %+d points for %s\n", s.OrderNo, total, points, mask(s.Phone))
		case errors.Is(err, ump.ErrOutcomeUnknown):
			// Not resent: the platform may have it. The error's Key says
			// which order, "order_no=...", for the log.
			r.Reconcile = append(r.Reconcile, s.OrderNo)
			fmt.Fprintf(out, "RECONCILE  %s: the answer was lost; check the platform before sending it again\n", s.OrderNo)
		case errors.As(err, &invalid): // caught before sending: nothing reached the platform
			var fields []string
			for _, f := range invalid.Fields {
				fields = append(fields, f.Field+" "+f.Reason)
			}
			reject(s.OrderNo, "not sent: "+strings.Join(fields, "; "))
		case errors.Is(err, ump.ErrAlreadyExists): // 150002: this order_no is on the platform
			r.Synced = append(r.Synced, s.OrderNo)
			fmt.Fprintf(out, "synced     %s: the platform had it already\n", s.OrderNo)
		case errors.As(err, &apiErr): // the platform said no: ErrMemberNotBound, ErrOrderNotFound, ...
			reject(s.OrderNo, fmt.Sprintf("platform error %d: %s", apiErr.Code, apiErr.Message))
		default: // unreachable, or ctx ended: the rest would fail the same way
			return r, fmt.Errorf("stopped at %s: %w", s.OrderNo, err)
		}
	}
	return r, nil
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

// mask hides the middle of a phone number: 138****0001.
func mask(phone string) string {
	if len(phone) < 7 {
		return "****"
	}
	return phone[:3] + "****" + phone[len(phone)-4:]
}
