package boltstore_test

import (
	"path/filepath"
	"testing"

	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/boltstore"
	"github.com/greedc/ump-go/outbox/outboxtest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	outboxtest.Run(t, func(t *testing.T, name string) outbox.Store {
		s, err := boltstore.Open(filepath.Join(dir, name+".db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
