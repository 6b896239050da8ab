package ump

import "context"

// epFleetPing is a business call for the fleet tests; the test gateway
// answers it like any method that needs an access token.
var epFleetPing = endpoint{method: "wk.test.ping", idempotent: true}

// FleetPing makes one business call through the shared request path, so
// that the fleet tests in package ump_test (which import the token stores,
// and so cannot be in package ump) see a rejected token handled exactly as
// an endpoint method would.
func FleetPing(ctx context.Context, c *Client) error {
	_, _, err := call[struct{}](ctx, c, &epFleetPing, nil)
	return err
}
