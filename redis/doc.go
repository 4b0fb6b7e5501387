// Package redis holds Courier's Redis adapters for the realtime side: the
// event bus on Redis pub/sub (EventBus, one pub/sub connection per node, a
// channel per node that user events are routed to, route.go), device
// presence with leases (Presence), and
// named leases for once-per-cluster rounds of work (Leases). The
// interfaces are the root package's courier.EventBus and courier.Presence;
// their in-process twins are in inmem/.
package redis
