package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
)

// redisDBLease is how long a test may hold a Redis database; a crashed test
// run gives it back after this.
const redisDBLease = 15 * time.Minute

// NewRedisDB returns the URL of a Redis database (1–15) that only t uses,
// flushed before and after. Key prefixes isolate most tests, but asynq has
// fixed key names ("asynq:{queue}:…"): a test that runs a worker needs a
// database of its own, or workers of tests running at the same time in
// other packages take each other's jobs. Databases are claimed with a lease
// key in database 0, so concurrent test binaries never share one; when all
// are taken, NewRedisDB waits for one to be given back.
func NewRedisDB(t testing.TB) string {
	t.Helper()
	base := RedisURL()
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	admin := redis.NewClient(opt)
	defer admin.Close()
	ctx := context.Background()
	if err := admin.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s is not reachable (run `make services`): %v", opt.Addr, err)
	}
	token := courier.NewID()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		for n := 1; n < 16; n++ {
			lock := "testenv:redisdb:" + strconv.Itoa(n)
			ok, err := admin.SetNX(ctx, lock, token, redisDBLease).Result()
			if err != nil {
				t.Fatalf("testenv: claim redis db: %v", err)
			}
			if !ok {
				continue
			}
			u := withDB(t, base, n)
			flush(t, u)
			t.Cleanup(func() {
				flush(t, u)
				c := redis.NewClient(opt)
				defer c.Close()
				// Release only our own claim.
				if v, _ := c.Get(context.Background(), lock).Result(); v == token {
					c.Del(context.Background(), lock)
				}
			})
			return u
		}
		if time.Now().After(deadline) {
			t.Fatal("testenv: every Redis database 1–15 is taken by other tests")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// withDB returns base with its database number replaced by n.
func withDB(t testing.TB, base string, n int) string {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	u.Path = fmt.Sprintf("/%d", n)
	return u.String()
}

func flush(t testing.TB, u string) {
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("testenv: flush redis db %d: %v", opt.DB, err)
	}
}
