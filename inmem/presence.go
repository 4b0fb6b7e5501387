package inmem

import (
	"context"
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// Presence is a courier.Presence inside one process, with the same
// leases as the Redis one: a device is online for courier.PresenceTTL
// after its last renewal.
type Presence struct {
	mu       sync.Mutex
	expiry   map[string]map[string]time.Time // user → device → lease end
	lastSeen map[string]time.Time
}

var _ courier.Presence = (*Presence)(nil)

// NewPresence returns an empty Presence.
func NewPresence() *Presence {
	return &Presence{expiry: map[string]map[string]time.Time{}, lastSeen: map[string]time.Time{}}
}

func (p *Presence) Connect(ctx context.Context, userID, deviceID string) error {
	return p.Refresh(ctx, map[string][]string{userID: {deviceID}})
}

func (p *Presence) Disconnect(_ context.Context, userID, deviceID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.expiry[userID], deviceID)
	p.lastSeen[userID] = time.Now()
	return p.online(userID), nil
}

func (p *Presence) Refresh(_ context.Context, devices map[string][]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for u, ds := range devices {
		if p.expiry[u] == nil {
			p.expiry[u] = map[string]time.Time{}
		}
		for _, d := range ds {
			p.expiry[u][d] = time.Now().Add(courier.PresenceTTL)
		}
	}
	return nil
}

func (p *Presence) OnlineDevices(_ context.Context, userIDs []string) (map[string]bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for _, u := range userIDs {
		for d, exp := range p.expiry[u] {
			if time.Now().Before(exp) {
				out[d] = true
			}
		}
	}
	return out, nil
}

func (p *Presence) Status(_ context.Context, userID string) (bool, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online(userID), p.lastSeen[userID], nil
}

func (p *Presence) online(userID string) bool {
	for _, exp := range p.expiry[userID] {
		if time.Now().Before(exp) {
			return true
		}
	}
	return false
}
