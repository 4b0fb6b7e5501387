package client

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// Config is what a Client needs. Only Store is required.
type Config struct {
	// Store is the local database; it must hold the account (SaveAccount).
	Store *Store
	// HTTPClient makes API, upload and download requests;
	// http.DefaultClient by default.
	HTTPClient *http.Client
	// Logger gets the client's own diagnostics; slog.Default() by default.
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the wait before a reconnect: it
	// doubles from MinBackoff (500 ms) to MaxBackoff (30 s), with jitter.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is the keepalive ping period; 25 s by default.
	PingInterval time.Duration
	// DeliveredDelay batches delivered receipts: one receipt per
	// conversation up to its cursor, this long after the first new
	// message; 100 ms by default.
	DeliveredDelay time.Duration
	// MediaDir holds downloaded media; a "media" folder beside nothing
	// (os.TempDir()/courier-media) by default.
	MediaDir string
	// UploadChunk is the most bytes one upload request carries; 4 MiB by
	// default. Smaller chunks resume with less to resend after a kill.
	UploadChunk int64
	// Encryption makes this device take part in end-to-end encrypted
	// conversations (docs/e2e.md): it uploads its keys at the first
	// connect, encrypts what it sends there and decrypts what it gets.
	// Off by default.
	Encryption bool
}

// Client is one signed-in device: it keeps the store in step with the
// server over one WebSocket, reconnecting as needed, drains the outbox,
// sends receipts and typing, uploads and downloads media, and reports
// everything on one event stream.
type Client struct {
	cfg    Config
	store  *Store
	acct   Account
	api    *api
	log    *slog.Logger
	events *eventQueue

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex
	conn     *Conn // nil while offline
	online   bool  // the first sync of conn finished
	state    ConnectionState
	kick     chan struct{}        // wakes the outbox sender
	resync   chan struct{}        // asks the session for a sync
	inflight map[string]bool      // conversations with a send in flight
	waitTill map[string]time.Time // conversations backing off a send
	uploads  map[int64]bool       // messages whose uploads run
	learning map[string]bool      // conversations whose details are being fetched
	closing  bool                 // Close began: no new background work (bg)
	started  bool                 // the outbox sender runs (the first Start)
	running  bool                 // run is dialing or connected
	bg       sync.WaitGroup       // background downloads (thumbnails); Close waits for them

	ident       *e2e.Identity // this device's, loaded once (e2e_keys.go)
	mailboxSeen int64         // the newest mailbox payload ID seen

	receipts receiptBatcher
	typing   typingState
	inbound  inbound // messages from the server waiting for storeLoop
}

// New opens a client on the store's account. Start connects it.
func New(cfg Config) (*Client, error) {
	if cfg.Store == nil {
		return nil, errors.New("client: Config.Store is required")
	}
	acct, err := cfg.Store.Account(context.Background())
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.DeliveredDelay <= 0 {
		cfg.DeliveredDelay = 100 * time.Millisecond
	}
	if cfg.MediaDir == "" {
		cfg.MediaDir = filepath.Join(os.TempDir(), "courier-media")
	}
	if cfg.UploadChunk <= 0 {
		cfg.UploadChunk = 4 << 20
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, store: cfg.Store, acct: acct, log: cfg.Logger, events: newEventQueue(),
		api: &api{url: acct.URL, token: acct.Token, hc: cfg.HTTPClient},
		ctx: ctx, cancel: cancel, state: Offline,
		kick: make(chan struct{}, 1), resync: make(chan struct{}, 1),
		inflight: map[string]bool{}, waitTill: map[string]time.Time{}, uploads: map[int64]bool{},
	}
	c.receipts.init(c)
	c.typing.init(c)
	c.inbound.init()
	if err := c.sweepOutgoing(context.Background()); err != nil {
		c.log.Warn("client: clean the outgoing folder", "err", err)
	}
	return c, nil
}

// Account returns the account the client runs as.
func (c *Client) Account() Account { return c.acct }

// Store returns the client's store, for reads.
func (c *Client) Store() *Store { return c.store }

// Events returns the event stream. Read it continuously; it closes after
// Close.
func (c *Client) Events() <-chan Event { return c.events.out }

// Start connects and keeps the client connected until Close. After the
// connection stopped for good (Revoked, Replaced) Start connects again:
// an app calls it when the user comes back to a device another socket
// had replaced. It does nothing while the client is connecting or
// connected.
func (c *Client) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running || c.closing {
		return
	}
	c.running = true
	if !c.started {
		c.started = true
		c.wg.Add(2)
		go c.sendLoop()
		go c.storeLoop()
	}
	c.wg.Add(1)
	go c.run()
}

// Close disconnects and stops every goroutine. The store stays open (the
// caller opened it). Whatever is in the outbox is sent at the next Start.
func (c *Client) Close() { c.closeOnce.Do(c.close) }

func (c *Client) close() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cancel()
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	c.wg.Wait()
	c.bg.Wait()
	c.receipts.stop()
	c.typing.stop()
	c.setState(Closed, nil)
	c.events.close()
}

// State returns the connection state.
func (c *Client) State() ConnectionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Client) setState(s ConnectionState, err error) {
	c.mu.Lock()
	changed := c.state != s
	c.state = s
	c.mu.Unlock()
	if changed {
		c.events.emit(ConnectionEvent{State: s, Err: err})
	}
}

// afterClose is what run does once a connection ended, or a dial failed.
type afterClose int

const (
	backOff      afterClose = iota // 1009, 1013, a network failure: redial after a backoff
	redialNow                      // 1001 going away, 4000 slow consumer: redial at once and sync
	stopRevoked                    // 4001, or the token refused at dial: never redial with it
	stopReplaced                   // 4002: a newer socket of this device is live; do not take it back
)

// closeAction maps why a connection ended to what the client does, one
// case per close code of docs/protocol.md. 4002 is final because the
// socket that replaced this one is the live one: redialing would close
// it with 4002 in turn, and two copies of an app (or a process the OS
// thought dead and its successor) would take turns replacing each other.
// 1009 backs off: the server hangs up on a frame over 1 MiB, which this
// client never writes (Send refuses bodies over the limit), so it means a
// broken path, not something a quick retry fixes.
func closeAction(err error) afterClose {
	if courier.ErrorCode(err) == courier.EUNAUTHORIZED {
		return stopRevoked
	}
	var ce *CloseError
	if !errors.As(err, &ce) {
		return backOff
	}
	switch ce.Code {
	case courier.CloseRevoked:
		return stopRevoked
	case courier.CloseReplaced:
		return stopReplaced
	case CloseGoingAway, courier.CloseSlowConsumer:
		return redialNow
	default: // CloseTryLater, CloseTooLarge, none (network)
		return backOff
	}
}

// run dials, runs a session, and redials after it ends as closeAction
// says: at once after 1001 (node going away) and 4000 (slow consumer),
// never after 4001 (revoked), 4002 (replaced) or a refused token, and
// otherwise after a backoff that doubles up to MaxBackoff with full
// jitter, so a hundred phones dropped by one node do not come back in the
// same millisecond.
func (c *Client) run() {
	defer c.wg.Done()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
	}()
	attempt := 0
	for c.ctx.Err() == nil {
		c.setState(Connecting, nil)
		conn, err := Dial(c.ctx, c.acct.URL, c.acct.Token, ConnConfig{PingInterval: c.cfg.PingInterval}, c.handleFrame)
		if err == nil {
			started := time.Now()
			err = c.session(conn)
			if time.Since(started) > 10*time.Second {
				attempt = 0 // it held: the next failure starts the backoff over
			}
		}
		if c.ctx.Err() != nil {
			return
		}
		switch closeAction(err) {
		case stopRevoked:
			c.stopped(Revoked, err)
			return
		case stopReplaced:
			c.stopped(Replaced, err)
			return
		case redialNow:
			attempt = 0
		}
		c.setState(Offline, err)
		wait := c.backoff(attempt)
		attempt++
		select {
		case <-time.After(wait):
		case <-c.ctx.Done():
			return
		}
	}
}

// stopped records that run ends for good, before it says why: an app
// that calls Start on the event starts a new run.
func (c *Client) stopped(s ConnectionState, err error) {
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	c.setState(s, err)
}

// backoff is the wait before reconnect attempt n (0 for the first): a
// random time up to min(MaxBackoff, MinBackoff·2ⁿ) ("full jitter"); the
// first attempt after a going-away close waits at most MinBackoff.
func (c *Client) backoff(n int) time.Duration {
	d := c.cfg.MinBackoff << min(n, 20)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// currentConn returns the live, synced connection, or nil.
func (c *Client) currentConn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.online {
		return nil
	}
	return c.conn
}

// wake wakes the outbox sender.
func (c *Client) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// warn logs a problem, unless the client is closing (everything in
// flight fails then, and that is no news).
func (c *Client) warn(msg string, args ...any) {
	if c.ctx.Err() == nil {
		c.log.Warn(msg, args...)
	}
}
