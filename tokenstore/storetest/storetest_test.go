package storetest

import (
	"testing"

	ump "github.com/greedc/ump-go"
)

// The memory store is the reference the other stores are held to.
func TestMemoryStore(t *testing.T) {
	Run(t, func(*testing.T) ump.TokenStore { return ump.NewMemoryTokenStore() })
}
