// Package api is Courier's HTTP edge: routing, authentication, JSON
// encoding, the one mapping from error codes to HTTP statuses, request IDs,
// access logs and request metrics. Handlers call domain services from the
// root package; other edges (the tus endpoint, the WebSocket gateway) are
// mounted on the same Server so they share its middleware.
package api
