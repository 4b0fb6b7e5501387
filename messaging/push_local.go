package messaging

import (
	"slices"
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// The push check skips members online on this node. A member all of whose
// devices hold a socket here needs no push, and the node can tell without
// asking Redis or PostgreSQL: which devices have sockets here is the
// hub's (localSockets), and which devices the user has is remembered from
// the last device query of the push check (knownDevices). Only members
// with a device not on this node go to presence and the device query, as
// every member did before.
//
// A device list can be stale: a device added since. It is forgotten when a
// devices.changed event about its user reaches the node (a device
// created, uploading its keys, revoked) and otherwise after knownDevicesTTL,
// so a brand-new device of a user online here misses pushes for at most
// that long (and it usually connects at once, which a push would only
// have woken it for).

// localSockets reports the devices with a registered, subscribed socket on
// this node, per user (the hub has it).
type localSockets interface {
	localDevices(userIDs []string) map[string][]string
}

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

// allLocal reports whether every known device of the user is among local.
func (k *knownDevices) allLocal(userID string, local []string, now time.Time) bool {
	if len(local) == 0 {
		return false
	}
	k.mu.Lock()
	l, ok := k.lists[userID]
	k.mu.Unlock()
	if !ok || now.Sub(l.at) > knownDevicesTTL {
		return false
	}
	for _, id := range l.ids {
		if !slices.Contains(local, id) {
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

// localDevices is localSockets on the hub.
func (h *hub) localDevices(userIDs []string) map[string][]string {
	out := make(map[string][]string, len(userIDs))
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, u := range userIDs {
		for _, c := range h.topics[courier.UserTopic(u)] {
			if _, detached := h.detached[c]; !detached && !slices.Contains(out[u], c.dev.ID) {
				out[u] = append(out[u], c.dev.ID)
			}
		}
	}
	return out
}
