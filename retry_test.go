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
