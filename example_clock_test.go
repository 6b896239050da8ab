package ump_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// A host whose clock runs 5 s ahead of the gateway's: the first call is
// refused, measured from its Date header, re-stamped and sent again; the
// client then knows the offset.
func ExampleClient_ClockOffset() {
	gateway := umptest.NewClock(time.Date(2024, 5, 1, 10, 0, 0, 300e6, time.UTC))
	srv := umptest.NewServer(umptest.WithClock(gateway))
	defer srv.Close()
	ahead := func() time.Time { return gateway.Now().Add(5 * time.Second) }
	client := srv.Client(ump.WithClock(ahead))
	srv.AddMember(umptest.Member{Phone: "13800000000"})

	_, err := client.Member.Get(context.Background(), &ump.MemberQuery{Phone: "13800000000"})
	fmt.Println("error:", err)
	fmt.Println("gateway minus local:", client.ClockOffset().Round(time.Second))
	// Output:
	// error: <nil>
	// gateway minus local: -5s
}

// With the correction off, a refusal of a timestamp measured more than 3 s
// off matches ErrClockSkew.
func ExampleErrClockSkew() {
	gateway := umptest.NewClock(time.Date(2024, 5, 1, 10, 0, 0, 300e6, time.UTC))
	srv := umptest.NewServer(umptest.WithClock(gateway))
	defer srv.Close()
	behind := func() time.Time { return gateway.Now().Add(-10 * time.Second) }
	client := srv.Client(ump.WithClock(behind), ump.WithClockSkewCorrection(false))

	_, err := client.Member.Get(context.Background(), &ump.MemberQuery{Phone: "13800000000"})
	if errors.Is(err, ump.ErrClockSkew) {
		fmt.Println("fix the host's clock; gateway minus local:", client.ClockOffset().Round(time.Second))
	}
	// Output:
	// fix the host's clock; gateway minus local: 10s
}
