package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/greedc/ump-go/internal/redistest"
	"github.com/greedc/ump-go/outbox"
	"github.com/greedc/ump-go/outbox/outboxtest"
	"github.com/greedc/ump-go/outbox/redisstore"
)

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	outboxtest.Run(t, func(t *testing.T, name string) outbox.Store {
		// The same name is the same process restarted: same consumer.
		s, err := redisstore.Open(context.Background(), rdb, redisstore.WithName(name),
			redisstore.WithConsumer("till-"+name), redisstore.WithClaimIdle(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
