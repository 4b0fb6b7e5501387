package messaging

import (
	"cmp"
	"slices"

	courier "github.com/courier-chat/courier"
)

// Default socket caps (GatewayConfig). A phone holds one socket; a
// reconnect may overlap for a while with the one a bad network left
// half-open, and a browser may open one per tab. A user has a few
// devices. Beyond that the sockets are a bug or an attack, and each holds
// a file descriptor the node's other users need.
const (
	DefaultMaxSocketsPerDevice = 5
	DefaultMaxSocketsPerUser   = 20
)

// overCap returns the sockets on this node beyond the caps for c's device
// and user, oldest first (socket ids grow with time), so the newest ones
// stay: the newest socket is the one a client that reconnected is using.
func (h *hub) overCap(c *conn, perDevice, perUser int) []*conn {
	h.mu.RLock()
	mine := slices.Clone(h.topics[courier.UserTopic(c.dev.UserID)])
	h.mu.RUnlock()
	slices.SortFunc(mine, func(a, b *conn) int { return cmp.Compare(b.id, a.id) }) // newest first
	var over []*conn
	devices := 0
	kept := mine[:0]
	for _, o := range mine {
		if o.dev.ID == c.dev.ID {
			if devices++; devices > perDevice {
				over = append(over, o)
				continue
			}
		}
		kept = append(kept, o)
	}
	if len(kept) > perUser {
		over = append(over, kept[perUser:]...)
	}
	return over
}
