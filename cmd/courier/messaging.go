package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/redis"
	"github.com/courier-chat/courier/worker"
)

// mountMessaging mounts conversations, history and the WebSocket gateway.
// The stores commit; messaging.Service fans out what they commit over the
// Redis event bus and queues pushes; the gateway serves GET /v1/ws.
func (m *Main) mountMessaging(ctx context.Context) error {
	c := m.Config
	convs := postgres.NewConversationService(m.DB, postgres.ConversationConfig{})
	store := postgres.NewMessageStore(m.DB, postgres.MessageConfig{})
	m.onClose(func(context.Context) error { return store.Close() })

	bus := redis.NewEventBus(m.Redis, redis.Config{Logger: m.Logger})
	m.onClose(func(context.Context) error { return bus.Close() })
	presence := redis.NewPresence(m.Redis, "")

	svc := messaging.NewService(messaging.Config{
		SendRate:   float64(c.MessageRate),
		SendBurst:  c.MessageBurst,
		TypingRate: float64(c.TypingRate),
	}, store, convs, bus, presence, postgres.NewAccountService(m.DB), worker.Pusher{Queue: m.Queue}, m.Logger)
	m.onClose(func(context.Context) error { svc.Close(); return nil })
	blocks := postgres.NewBlockStore(m.DB)
	svc.SetBlocks(blocks)
	m.Registry.MustRegister(svc.Collectors()...)

	gw := messaging.NewGateway(messaging.GatewayConfig{SendQueue: c.WSSendQueue,
		MaxSocketsPerDevice: c.WSPerDevice, MaxSocketsPerUser: c.WSPerUser}, svc, bus, presence, m.Logger)
	// Runs before the services close (closers run in reverse): sockets get
	// "going away" and reconnect to another node.
	m.onClose(gw.Close)
	gw.SetMailbox(postgres.NewMailboxStore(m.DB))
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "courier_ws_connections",
		Help: "WebSockets open on this node (capped per device and user by -ws-max-per-device, -ws-max-per-user).",
	}, func() float64 { return float64(gw.Connections()) }))

	// The HTTP conversation API (api/conversation.go) takes the decorated
	// store, so HTTP sends fan out and are rate-limited like WebSocket ones.
	m.API.MountMessaging(convs, svc)
	m.API.MountPush(postgres.NewPushStore(m.DB), svc, messaging.NewLimiter(pushAckRate, pushAckBurst),
		messaging.NewLimiter(pushAckAddrRate, pushAckAddrBurst))
	m.API.MountConversationState(convs, blocks)
	m.API.SetEventPublisher(bus)
	m.API.Handle("GET /v1/ws", m.API.AuthenticatedWS(gw))
	return nil
}
