package ump_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	ump "github.com/greedc/ump-go"
)

// Give two coupons of template "T-202107" (created with CreateTemplate): one
// to a member known by phone, one to a member known by open_id. Each coupon
// carries the integrator's own number, which 5.3 and 5.4 name it by later.
func ExampleCouponService_Give() {
	// A stand-in for the gateway: it issues a token, then answers the give
	// call the way section 5.2 of the document shows.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gw/gateway/dss.auth.token.query/v1":
			io.WriteString(w, `{"success":true,"data":{"access_token":"at","refresh_token":"rt","expire_in":7200}}`)
		case "/gw/gateway/wk.coupon.give/v1":
			io.WriteString(w, `{"success":true,"error_code":null,"error_message":null,"data":[
				{"code":3733288246799497770,"open_id":"168eebeb0d2e4edca2258ce156ec545d"},
				{"code":3733288242305165352,"open_id":"af76d25b97be4c55ab7fb0aff1d06667"}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	c, err := ump.NewClient("app-id", "app-secret", ump.WithBaseURL(srv.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	given, err := c.Coupon.Give(context.Background(), &ump.GiveCouponsRequest{
		ThirdCouponID: "T-202107",
		Number:        1,
		CouponSet: []ump.CouponGrant{
			{OpenIDOrPhone: "18023016181", ParamsType: ump.ParamsPhone, CouponNumber: "29b81c45e83b49f5a71b95555aef6d00"},
			{OpenIDOrPhone: "af76d25b97be4c55ab7fb0aff1d06667", ParamsType: ump.ParamsOpenID, CouponNumber: "6c69f766bddf4cf5923e06eea6bdccfb"},
		},
		// CreateTime left zero: now, by the client's clock.
	})
	switch {
	case errors.Is(err, ump.ErrOutcomeUnknown):
		// Not repeated automatically: check with ListUserCoupons first.
		fmt.Println("outcome unknown:", err)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	for _, g := range given {
		fmt.Println(g.Code, g.OpenID)
	}
	// Output:
	// 3733288246799497770 168eebeb0d2e4edca2258ce156ec545d
	// 3733288242305165352 af76d25b97be4c55ab7fb0aff1d06667
}
