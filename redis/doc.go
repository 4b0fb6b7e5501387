// Package redis holds Courier's Redis adapters for the realtime side: the
// event bus on Redis pub/sub (EventBus, one pub/sub connection per node,
// one channel per user topic) and device presence with leases (Presence).
// Their in-memory twins for unit tests live beside the interfaces in
// messaging/ (MemoryBus, MemoryPresence).
package redis
