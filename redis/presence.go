package redis

import (
	"context"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
)

// Presence is courier.Presence on Redis. Each user has a sorted set of
// their connected devices scored by lease end (unix ms): a device is online
// while its score is in the future. Nodes renew the scores of their own
// devices; a killed node's entries simply run out. Last-seen times are
// plain keys kept for LastSeenTTL.
type Presence struct {
	rdb    goredis.UniversalClient
	prefix string
}

var _ courier.Presence = (*Presence)(nil)

// LastSeenTTL is how long a user's last-seen time is remembered.
const LastSeenTTL = 90 * 24 * time.Hour

// NewPresence returns Presence with keys under prefix (default "courier:").
func NewPresence(rdb goredis.UniversalClient, prefix string) *Presence {
	if prefix == "" {
		prefix = "courier:"
	}
	return &Presence{rdb: rdb, prefix: prefix + "pr:"}
}

func (p *Presence) devicesKey(userID string) string { return p.prefix + "d:" + userID }
func (p *Presence) seenKey(userID string) string    { return p.prefix + "s:" + userID }

func nowMS() int64 { return time.Now().UnixMilli() }

func (p *Presence) Connect(ctx context.Context, userID, deviceID string) error {
	return p.Refresh(ctx, map[string][]string{userID: {deviceID}})
}

func (p *Presence) Disconnect(ctx context.Context, userID, deviceID string) (bool, error) {
	now := nowMS()
	pipe := p.rdb.TxPipeline()
	pipe.ZRem(ctx, p.devicesKey(userID), deviceID)
	pipe.Set(ctx, p.seenKey(userID), now, LastSeenTTL)
	count := pipe.ZCount(ctx, p.devicesKey(userID), "("+strconv.FormatInt(now, 10), "+inf")
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	return count.Val() > 0, nil
}

// Refresh renews leases in one pipeline; expired members are trimmed on
// the way so the sets stay small.
func (p *Presence) Refresh(ctx context.Context, devices map[string][]string) error {
	if len(devices) == 0 {
		return nil
	}
	now := nowMS()
	until := float64(now + courier.PresenceTTL.Milliseconds())
	pipe := p.rdb.Pipeline()
	for userID, ids := range devices {
		key := p.devicesKey(userID)
		members := make([]goredis.Z, len(ids))
		for i, id := range ids {
			members[i] = goredis.Z{Score: until, Member: id}
		}
		pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now, 10))
		pipe.ZAdd(ctx, key, members...)
		pipe.PExpire(ctx, key, 2*courier.PresenceTTL)
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (p *Presence) OnlineDevices(ctx context.Context, userIDs []string) (map[string]bool, error) {
	now := "(" + strconv.FormatInt(nowMS(), 10)
	pipe := p.rdb.Pipeline()
	cmds := make([]*goredis.StringSliceCmd, len(userIDs))
	for i, u := range userIDs {
		cmds[i] = pipe.ZRangeByScore(ctx, p.devicesKey(u), &goredis.ZRangeBy{Min: now, Max: "+inf"})
	}
	if _, err := pipe.Exec(ctx); err != nil && err != goredis.Nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range cmds {
		for _, d := range c.Val() {
			out[d] = true
		}
	}
	return out, nil
}

func (p *Presence) Status(ctx context.Context, userID string) (bool, time.Time, error) {
	pipe := p.rdb.Pipeline()
	count := pipe.ZCount(ctx, p.devicesKey(userID), "("+strconv.FormatInt(nowMS(), 10), "+inf")
	seen := pipe.Get(ctx, p.seenKey(userID))
	if _, err := pipe.Exec(ctx); err != nil && err != goredis.Nil {
		return false, time.Time{}, err
	}
	var last time.Time
	if ms, err := seen.Int64(); err == nil {
		last = time.UnixMilli(ms).UTC()
	}
	return count.Val() > 0, last, nil
}
