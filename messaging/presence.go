package messaging

import (
	"context"
	"sync"
	"time"
)

// Presence records which devices hold a live socket on any API node. A node
// marks its devices online with a lease and renews the leases of all its
// devices every PresenceRefresh, so a node that dies (SIGKILL) stops
// counting as online within PresenceTTL without anyone cleaning up.
type Presence interface {
	// Connect marks the device online.
	Connect(ctx context.Context, userID, deviceID string) error
	// Disconnect marks the device offline, records the user's last-seen
	// time, and reports whether another of the user's devices is online.
	Disconnect(ctx context.Context, userID, deviceID string) (userOnline bool, err error)
	// Refresh renews the leases of the given devices (user ID → device IDs).
	Refresh(ctx context.Context, devices map[string][]string) error
	// OnlineDevices returns the IDs of the users' devices that are online.
	OnlineDevices(ctx context.Context, userIDs []string) (map[string]bool, error)
	// Status is a user's online state and last-seen time (zero if never).
	Status(ctx context.Context, userID string) (online bool, lastSeen time.Time, err error)
}

// Lease timing: a device counts as online for PresenceTTL after the last
// renewal, renewed every PresenceRefresh (a third of it, so two renewals
// may fail before a live device looks offline).
const (
	PresenceTTL     = 60 * time.Second
	PresenceRefresh = PresenceTTL / 3
)

// MemoryPresence is Presence inside one process, for unit tests.
type MemoryPresence struct {
	mu       sync.Mutex
	expiry   map[string]map[string]time.Time // user → device → lease end
	lastSeen map[string]time.Time
}

var _ Presence = (*MemoryPresence)(nil)

// NewMemoryPresence returns an empty MemoryPresence.
func NewMemoryPresence() *MemoryPresence {
	return &MemoryPresence{expiry: map[string]map[string]time.Time{}, lastSeen: map[string]time.Time{}}
}

func (p *MemoryPresence) Connect(_ context.Context, userID, deviceID string) error {
	p.Refresh(nil, map[string][]string{userID: {deviceID}})
	return nil
}

func (p *MemoryPresence) Disconnect(_ context.Context, userID, deviceID string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.expiry[userID], deviceID)
	p.lastSeen[userID] = time.Now()
	return p.online(userID), nil
}

func (p *MemoryPresence) Refresh(_ context.Context, devices map[string][]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for u, ds := range devices {
		if p.expiry[u] == nil {
			p.expiry[u] = map[string]time.Time{}
		}
		for _, d := range ds {
			p.expiry[u][d] = time.Now().Add(PresenceTTL)
		}
	}
	return nil
}

func (p *MemoryPresence) OnlineDevices(_ context.Context, userIDs []string) (map[string]bool, error) {
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

func (p *MemoryPresence) Status(_ context.Context, userID string) (bool, time.Time, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online(userID), p.lastSeen[userID], nil
}

func (p *MemoryPresence) online(userID string) bool {
	for _, exp := range p.expiry[userID] {
		if time.Now().Before(exp) {
			return true
		}
	}
	return false
}
