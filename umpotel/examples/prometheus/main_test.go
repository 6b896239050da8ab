package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsEndpoint: after a lookup, /metrics shows the call, its
// attempt, the token call and the token gauges in Prometheus's format.
func TestMetricsEndpoint(t *testing.T) {
	d, err := newDemo()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.close()) })
	require.NoError(t, d.lookup(t.Context()))

	rec := httptest.NewRecorder()
	d.metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, want := range []string{
		`rpc_client_call_duration_seconds_count{`,
		`rpc_method="wk.user.info.query"`,
		`ump_outcome="ok"`,
		`le="0.005"`, // buckets for seconds
		`http_client_request_duration_seconds_count{`,
		`ump_client_call_attempts_bucket{`,
		`ump_token_calls_total{`,
		`ump_token_kind="obtain"`,
		`ump_token_budget_remaining{`,
		`ump_token_expiry_seconds{`,
	} {
		assert.Contains(t, body, want)
	}
	assert.False(t, strings.Contains(body, "13800138000"), "no phone number")
}
