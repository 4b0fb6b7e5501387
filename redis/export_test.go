package redis

// NodeChannel is the channel b's node receives routed events on.
func NodeChannel(b *EventBus) string { return b.nodeChannel }
