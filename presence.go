package courier

import (
	"context"
	"time"
)

// Presence records which devices hold a live socket on any API node. A node
// marks its devices online with a lease and renews the leases of all its
// devices every PresenceRefresh, so a node that dies (SIGKILL) stops
// counting as online within PresenceTTL without anyone cleaning up.
//
// redis.Presence is the one shared by nodes; inmem.Presence lives in one
// process.
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
