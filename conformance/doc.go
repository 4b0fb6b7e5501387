// Package conformance is a black-box suite that checks the promises of
// docs/protocol.md through the client SDK against running Courier nodes:
// ordering, no gaps, deduplication, receipts, typing expiry, presence,
// outbox survival across a client killed at random points, and a hundred
// clients reconnecting at once.
//
// Against nodes of your own (they need open sign-up, as `courier dev` or
// `serve -open-signup` give, and share one database and Redis):
//
//	go test ./conformance -url http://10.0.0.1:8080,http://10.0.0.2:8080,http://10.0.0.3:8080
//
// Without -url (as in `make test`) it starts three nodes of this checkout
// against the local services.
package conformance
