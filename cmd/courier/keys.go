package main

import (
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/postgres"
)

// Key fetch limits (per API node, like every token bucket here): a user
// may fetch another user's keys in a burst of 20 and then once per 10 s
// (a sender refetches when told devices.changed), and all requesters
// together may claim a user's keys 5 times a second after a burst of 100.
// So a one-time stock of 100 outlasts a burst of strangers, and a stock
// that runs out falls back to the last-resort key, never to nothing.
const (
	keyPairRate, keyPairBurst     = 0.1, 20
	keyTargetRate, keyTargetBurst = 5, 100
)

// mountKeys mounts the key directory and the device mailbox. Their events
// (keys.low, devices.changed, mailbox) reach sockets through the publisher
// mountMessaging set.
func (m *Main) mountKeys() {
	m.API.MountMailbox(postgres.NewMailboxStore(m.DB))
	m.API.MountKeys(postgres.NewKeyStore(m.DB), api.KeyLimits{
		PerPair:   messaging.NewLimiter(keyPairRate, keyPairBurst),
		PerTarget: messaging.NewLimiter(keyTargetRate, keyTargetBurst),
	})
}
