package ump

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRetryPolicyBackoff(t *testing.T) {
	p := RetryPolicy{MaxAttempts: 10, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	for n := 1; n < 12; n++ {
		want := min(100*time.Millisecond<<(n-1), time.Second)
		for range 20 {
			d := p.backoff(n)
			require.GreaterOrEqual(t, d, want/2, "attempt %d", n)
			require.Less(t, d, want, "attempt %d", n)
		}
	}
	require.Equal(t, time.Duration(0), RetryPolicy{MaxAttempts: 2}.backoff(3))
}

// TestRetryClasses pins what each class repeats, as doc.go's table states,
// and that an endpoint naming no class is never repeated.
func TestRetryClasses(t *testing.T) {
	cases := []struct {
		class                 retryClass
		name                  string
		busy, ambiguousRepeat bool
	}{
		{retryNever, "never", false, false},
		{retrySafe, "safe", true, true},
		{retryKeyed, "keyed", true, true},
	}
	for _, tc := range cases {
		require.Equal(t, tc.name, tc.class.String())
		require.Equal(t, tc.busy, tc.class.repeatsBusy(), tc.name)
		require.Equal(t, tc.ambiguousRepeat, tc.class.repeatsAmbiguous(), tc.name)
	}
	require.Equal(t, retryNever, endpoint{method: "wk.any"}.retry, "the zero class is never")
	for ep, want := range map[*endpoint]retryClass{
		&epGetMember: retrySafe, &epCreateMember: retryNever, &epScoreChange: retryKeyed,
		&epScoreRollback: retryKeyed, &epConsumeOrder: retryNever, &epCouponSyncStatus: retrySafe,
		&epSMSSend: retryNever, &epObtain: retryNever, &epRefresh: retryNever,
	} {
		require.Equal(t, want, ep.retry, ep.method)
	}
	require.Equal(t, retryKeyed, epConsumeOrder.resending().retry, "a resolution resends as a keyed write")
	require.Equal(t, retryNever, epConsumeOrder.retry, "resending leaves the declaration alone")
}
