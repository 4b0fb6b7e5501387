package messaging

import (
	"slices"
	"sync"
	"time"
)

// The push check skips members online on this node. A member all of whose
// devices hold a socket here needs no push, and the node can tell without
// asking Redis or PostgreSQL: which devices have sockets here is the
// hub's, and which devices the user has is remembered from
// the last device query of the push check (knownDevices). Only members
// with a device not on this node go to presence and the device query, as
// every member did before.
//
// A device list can be stale: a device added since. It is forgotten when a
// devices.changed event about its user reaches the node (a device
// created, uploading its keys, revoked) and otherwise after knownDevicesTTL:
// a push check racing the event (or a Redis outage losing it) leaves a new
// device of a user online here without pushes for at most that long.

const knownDevicesTTL = 5 * time.Second

// knownDevices remembers users' device lists for the push check.
type knownDevices struct {
	mu    sync.Mutex
	lists map[string]deviceList
	epoch uint64 // moves at every forget: a list read before it is not kept
}

type deviceList struct {
	ids []string
	at  time.Time
}

// allLocal reports whether every known device of the user has one of
// socks. k.mu is held.
func (k *knownDevices) allLocal(userID string, socks []*conn, now time.Time) bool {
	l, ok := k.lists[userID]
	if !ok || now.Sub(l.at) > knownDevicesTTL {
		return false
	}
	for _, id := range l.ids {
		if !slices.ContainsFunc(socks, func(c *conn) bool { return c.dev.ID == id }) {
			return false
		}
	}
	return true
}

// start returns the epoch to pass to keep for lists read from now on.
func (k *knownDevices) start() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.epoch
}

// keep remembers device lists read since start returned epoch, unless a
// forget came in between.
func (k *knownDevices) keep(epoch uint64, lists map[string][]string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.epoch != epoch {
		return
	}
	if k.lists == nil {
		k.lists = map[string]deviceList{}
	}
	for u, ids := range lists {
		k.lists[u] = deviceList{ids: ids, at: now}
	}
	// Drop what ran out, so users who left the node do not pile up.
	if len(k.lists) > 2*len(lists)+1024 {
		for u, l := range k.lists {
			if now.Sub(l.at) > knownDevicesTTL {
				delete(k.lists, u)
			}
		}
	}
}

// forget drops a user's device list: it changed.
func (k *knownDevices) forget(userID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.lists, userID)
	k.epoch++
}

// live returns socks without the detached ones (registered while the bus
// was down): their devices are not marked online in presence, and are
// pushed to as before. h.mu is held.
func (h *hub) live(socks []*conn) []*conn {
	if len(h.detached) == 0 {
		return socks // the usual case: nothing to copy
	}
	return slices.DeleteFunc(slices.Clone(socks), func(c *conn) bool {
		_, detached := h.detached[c]
		return detached
	})
}
