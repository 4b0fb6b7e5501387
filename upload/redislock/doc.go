// Package redislock is a tusd handler.Locker whose locks live in Redis, so
// an upload lock holds across every Courier API node that shares the Redis.
// tusd ships only in-process lockers (memorylocker, filelocker); with
// several nodes behind a load balancer, a phone that resumes an upload on
// another node must still never have two requests writing it at once.
//
// # Lease
//
// A lock is the key Prefix+uploadID, set with SET NX PX to a random token
// that only the holding request knows. The key expires after LeaseTTL
// (default 10s) unless renewed, so a node that crashes or is cut off holds
// its uploads for at most one lease. Unlock deletes the key only if it still
// carries the holder's token (a Lua compare-and-delete), so a request whose
// lease lapsed can never delete the lock another node has since taken.
//
// # Renewal
//
// While a lock is held, a goroutine renews the lease every LeaseTTL/3 with
// a Lua compare-and-PEXPIRE. If Redis reports that the key is gone or
// belongs to someone else, or no renewal has succeeded for a whole lease,
// the lock is lost: the locker logs it and calls the holder's requestRelease
// callback, which makes tusd close the request body and end the PATCH.
//
// Known limit: tusd cannot be told "you no longer hold the lock" in any
// other way, and its data stores take no fencing token. Bytes the store
// writes between the moment the lease lapsed and the moment the request
// stops are not protected against a new holder. That needs a lease that
// lapses while its holder still runs, which takes a Redis outage or a
// process paused longer than LeaseTTL; keep LeaseTTL well above GC and
// scheduling pauses.
//
// # Release requests
//
// tusd's memorylocker calls the current holder's requestRelease when
// another request wants the lock, so an old PATCH ends early and the newer
// one (typically a phone resuming after a network change) takes over. This
// locker does the same across nodes: a request that finds the lock taken
// publishes "release" on the channel Prefix+"ch:"+uploadID, and the node
// holding the lock, subscribed to that channel while it holds, calls the
// holder's callback. Unlock publishes "unlocked" on the same channel, which
// wakes waiters on every node at once. Each node uses one pub/sub
// connection for all its uploads, subscribing to an upload's channel only
// while it holds or waits for that upload.
//
// Pub/sub is fire-and-forget, so a waiter also retries with backoff
// (PollMin doubling to PollMax) and republishes its release request each
// time: a message lost to a reconnect, or an unlock that was really a lease
// expiry, delays the handover by at most PollMax.
//
// tusd v2.9.1 reads the request body it must close on a release without
// synchronization (tus/tusd#1192), with memorylocker as with this locker.
// The race detector flags it, so the tests that interrupt PATCHes run
// without -race; see tusd_contention_test.go.
//
// # Timeouts
//
// Lock waits until the context tusd passes it is done (tusd bounds it with
// Config.AcquireLockTimeout) and then returns handler.ErrLockTimeout, as
// memorylocker does. If Redis cannot be reached it returns ErrUnavailable
// (HTTP 503) at once rather than waiting out the timeout. Each Redis call
// is bounded by OpTimeout, and a SET whose outcome is unknown is undone in
// the background by token.
//
// # Recommended tusd settings for phones
//
// A phone that moves between Wi-Fi and cellular leaves its earlier PATCH on
// a half-open connection: the server sees no FIN and would read nothing
// until handler.Config.NetworkTimeout (default 60s). The resumed request's
// HEAD or PATCH asks that request to release, so it does not wait for the
// network timeout; what it waits for is the old request to wrap up.
//
//   - AcquireLockTimeout: above the time an interrupted request needs to
//     save what it received, and above LeaseTTL+PollMax so that a crashed
//     node's lease can expire within one wait. 20s (tusd's default) with
//     the 10s lease. With s3store the wrap-up uploads the buffered part,
//     so size it for one part over a slow link to S3.
//   - GracefulRequestCompletionTimeout: how long the store may keep
//     saving after the request ended; 10s (the default) and below
//     AcquireLockTimeout.
//   - NetworkTimeout: 20–30s, so a dead connection that nobody asks to
//     release (the phone gave up) frees the lock within half a minute,
//     yet a phone stalled in a tunnel for a few seconds keeps its upload.
//   - LeaseTTL: 10s. Shorter leases recover faster from a crashed node
//     but cost more renewals and risk a false loss on a slow Redis.
package redislock
