package ump

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSharedPathSignsAndDecodes drives one call through the shared path: the
// gateway helper verifies the sign and timestamp, and the data decodes.
func TestSharedPathSignsAndDecodes(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.test.echo", `{"success":true,"error_code":200,"data":{"n":"9007199254740993"}}`)
	type out struct {
		N int64 `json:"n,string"`
	}
	ep := endpoint{method: "wk.test.echo", retry: retrySafe}
	got, _, err := call[out](context.Background(), c, &ep, map[string]string{"q": "<&>"}, "")
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), got.N)
	require.Equal(t, `{"q":"<&>"}`, string(g.calls()[0].Body), "body sent without HTML escaping")
	require.Equal(t, testAccessToken, g.calls()[0].Query.Get("access_token"))
}
