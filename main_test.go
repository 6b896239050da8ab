package ump

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a
// retry wait, a token renewal or an HTTP connection left running.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
