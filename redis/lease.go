package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Leases hands out named leases in Redis: at most one holder across every
// node per name until the lease runs out. The upload sweeper and the
// upload reconciler take one per round, so one node does each round's
// work (upload.Leases).
type Leases struct {
	rdb    goredis.UniversalClient
	prefix string
}

// NewLeases returns leases whose keys start with prefix (tests give each
// run its own; "" means "courier:lease:").
func NewLeases(rdb goredis.UniversalClient, prefix string) *Leases {
	if prefix == "" {
		prefix = "courier:lease:"
	}
	return &Leases{rdb: rdb, prefix: prefix}
}

// TryLease takes the lease name for ttl if nobody holds it, and reports
// whether it did. The lease is never released early: it marks a round of
// work, and the next round begins when it runs out.
func (l *Leases) TryLease(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	return l.rdb.SetNX(ctx, l.prefix+name, "1", ttl).Result()
}
