// Package client is Courier's reference client: the half of the system that
// runs on a phone. It keeps a local SQLite store that is read first (the
// conversation list and history show before any network), a persistent
// outbox that sends in order per conversation and resends with the same
// client ID until the server acknowledges, message states derived from the
// server's receipt watermarks, debounced typing, resumable media uploads,
// and one typed event stream a UI binds to.
//
// The types are named so that a port to Swift reads the same: Client
// (the session), Store (the local database), Outbox, Message and
// MessageState, Conversation, Event. Message bodies are opaque bytes from
// the store to the wire, so an end-to-end encryption layer seals and opens
// them above this package without changing it.
//
// The package imports the root courier package for the shared domain types
// and error codes, the WebSocket library and the SQLite driver; it never
// imports server code. docs/client.md describes the design.
package client
