package messaging

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
)

// Keepalive and write timing, as in gorilla's chat example: the server
// pings every pingPeriod and drops a socket that has sent nothing (not even
// a pong) for pongWait; a write that takes longer than writeWait fails.
// One pinger per gateway, rather than a ticker per socket, pings a
// pingSlots-th of the sockets every pingPeriod/pingSlots, so pings are
// spread out and an idle socket holds no timer.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	pingSlots  = 32
)

// GatewayConfig configures the WebSocket gateway.
type GatewayConfig struct {
	// SendQueue is how many frames may wait for a slow socket before it is
	// dropped. Default 256.
	SendQueue int
	// ReadBufferSize is gorilla's read buffer, held by every socket for
	// its life: small, because frames are small and a read larger than the
	// buffer bypasses it. Default 128 (gorilla's floor is 125, the largest
	// control frame).
	ReadBufferSize int
	// WriteBufferSize is gorilla's write buffer; they come from a shared
	// pool and are held only while a frame is written. Default 1024.
	WriteBufferSize int
	// MaxSocketsPerDevice and MaxSocketsPerUser cap a device's and a
	// user's sockets on this node: a new socket past a cap closes the
	// oldest one with courier.CloseReplaced (4002). Defaults
	// DefaultMaxSocketsPerDevice (5) and DefaultMaxSocketsPerUser (20).
	MaxSocketsPerDevice int
	MaxSocketsPerUser   int
	// CheckOrigin decides cross-origin browser upgrades. Default: allow all
	// (the bearer token, not cookies, authenticates).
	CheckOrigin func(r *http.Request) bool
}

// Gateway is the GET /v1/ws handler: it upgrades authenticated requests
// and runs a reader goroutine per socket, and a writer goroutine while the
// socket has something to send.
type Gateway struct {
	cfg      GatewayConfig
	svc      *Service
	hub      *hub
	upgrader websocket.Upgrader
	logger   *slog.Logger

	ctx    context.Context // cancelled at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool

	mailbox courier.MailboxStore // SetMailbox; nil answers mailbox frames not_found

	pingSlot atomic.Uint32 // the slot the pinger visited last
	runners  *runners      // frame handlers and writers
}

// NewGateway returns a gateway over svc that receives events from bus.
func NewGateway(cfg GatewayConfig, svc *Service, bus courier.EventBus, presence courier.Presence, logger *slog.Logger) *Gateway {
	if cfg.SendQueue == 0 {
		cfg.SendQueue = 256
	}
	if cfg.ReadBufferSize == 0 {
		cfg.ReadBufferSize = 128
	}
	if cfg.WriteBufferSize == 0 {
		cfg.WriteBufferSize = 1024
	}
	if cfg.MaxSocketsPerDevice <= 0 {
		cfg.MaxSocketsPerDevice = DefaultMaxSocketsPerDevice
	}
	if cfg.MaxSocketsPerUser <= 0 {
		cfg.MaxSocketsPerUser = DefaultMaxSocketsPerUser
	}
	if cfg.CheckOrigin == nil {
		cfg.CheckOrigin = func(*http.Request) bool { return true }
	}
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{
		cfg: cfg, svc: svc, logger: logger, ctx: ctx, cancel: cancel,
		hub: newHub(bus, presence, logger, svc.forgetDevices), runners: newRunners(),
		upgrader: websocket.Upgrader{
			ReadBufferSize:  cfg.ReadBufferSize,
			WriteBufferSize: cfg.WriteBufferSize,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     cfg.CheckOrigin,
		},
	}
	svc.local.Store(g.hub)
	go g.hub.refreshLoop(ctx)
	go g.hub.reattachLoop(ctx)
	go g.pingLoop(ctx)
	return g
}

// ServeHTTP upgrades the request. The device comes from the context
// (api.Server.AuthenticatedWS put it there).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dev := courier.DeviceFromContext(r.Context())
	if dev == nil {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	g.wg.Add(1)
	g.mu.Unlock()

	ws, err := g.upgrader.Upgrade(w, r, nil)
	if err != nil {
		g.wg.Done()
		return // the upgrader has answered
	}
	c := newConn(g, ws, dev)
	// Subscribe before the client can send anything: a sync it sends next
	// reads the store after the subscription is live, so nothing committed
	// in between is lost.
	if err := g.hub.register(g.ctx, c); err != nil {
		g.logger.Error("ws: register", "device_id", dev.ID, "err", err)
		c.close(websocket.CloseTryAgainLater, "try again")
		c.waitFinished()
		g.wg.Done()
		return
	}
	for _, old := range g.hub.overCap(c, g.cfg.MaxSocketsPerDevice, g.cfg.MaxSocketsPerUser) {
		old.close(courier.CloseReplaced, "replaced by a newer connection")
	}
	// The reader gets a fresh goroutine and the handler returns, as in
	// gorilla's chat example: net/http's per-connection state (its 4 KiB
	// bufio reader and writer, the request, the response writer) is then
	// garbage instead of living as long as the socket, and the reader's
	// stack holds no HTTP frames.
	go c.run()
}

// pingLoop pings one slot of sockets per tick, each socket once per
// pingPeriod. A new socket joins the slot visited last, so its first ping
// comes a full round after it connected (as with a ticker per socket), and
// well within pongWait.
func (g *Gateway) pingLoop(ctx context.Context) {
	t := time.NewTicker(pingPeriod / pingSlots)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		slot := uint8((g.pingSlot.Load() + 1) % pingSlots)
		g.pingSlot.Store(uint32(slot))
		g.hub.each(func(c *conn) {
			if c.slot == slot {
				c.ping()
			}
		})
	}
}

// Close tells every socket "going away" (1001) so clients reconnect to
// another node, and waits for them to finish until ctx ends.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	for _, c := range g.hub.all() {
		c.close(websocket.CloseGoingAway, "server shutting down, reconnect")
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	defer g.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Connections is the number of open sockets on this node.
func (g *Gateway) Connections() int { return g.hub.count() }
