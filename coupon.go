package ump

// CouponService holds the gateway's coupon calls.
type CouponService service
