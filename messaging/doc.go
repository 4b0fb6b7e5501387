// Package messaging is the realtime side of Courier's messaging core: the
// WebSocket gateway (gateway.go, conn.go), the frames it speaks (frame.go),
// the per-node registry of sockets that routes bus events to them (hub.go),
// catch-up sync with in-order delivery (sync.go), typing and presence, rate
// limits, and Service, a courier.MessageStore decorator that fans committed
// messages out to members and queues pushes for offline devices.
//
// Durable state lives behind courier.MessageStore and
// courier.ConversationService (postgres/); events between API nodes travel
// on a courier.EventBus (redis.EventBus; inmem.EventBus inside one
// process), one topic per user, with membership resolved when publishing
// (never per-conversation subscriptions).
package messaging
