// Package inmem holds in-process implementations of the root package's
// realtime seams: EventBus (nodes joined by a Broker, as Redis joins API
// nodes) and Presence. Tests and single-process tools use them where
// Redis would be a dependency for nothing; production nodes use redis/.
package inmem
