package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	sdk "github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/redis"
)

// cluster is one schema and one Redis prefix shared by API nodes, like a
// deployment: each node has its own bus connection and gateway.
type cluster struct {
	t        *testing.T
	db       *testenv.DB
	accounts *postgres.AccountService
	convs    *postgres.ConversationService
	store    *postgres.MessageStore
	rdb      *goredis.Client
	prefix   string
	pushes   *pushRecorder
	cfg      messaging.Config
	gwcfg    messaging.GatewayConfig
	devices  messaging.DeviceLister // the push check's; default accounts
}

func newCluster(t *testing.T) *cluster {
	db := testenv.NewDB(t)
	rdb, prefix := testenv.NewRedis(t)
	store := postgres.NewMessageStore(db.Pool, postgres.MessageConfig{})
	t.Cleanup(func() { store.Close() })
	return &cluster{
		t: t, db: db, accounts: postgres.NewAccountService(db.Pool),
		convs: postgres.NewConversationService(db.Pool, postgres.ConversationConfig{}),
		store: store, rdb: rdb, prefix: prefix,
		pushes: &pushRecorder{got: map[string][]int64{}},
	}
}

type node struct {
	svc  *messaging.Service
	gw   *messaging.Gateway
	base string // http://, what the SDK dials
	url  string // ws://, for rawDial
}

// node starts an API node: gateway behind token auth on a loopback port.
func (c *cluster) node() *node { return c.nodeOn(c.rdb) }

// nodeOn starts an API node reaching Redis through rdb.
func (c *cluster) nodeOn(rdb *goredis.Client) *node {
	bus := redis.NewEventBus(rdb, redis.Config{Prefix: c.prefix})
	presence := redis.NewPresence(rdb, c.prefix)
	var devices messaging.DeviceLister = c.accounts
	if c.devices != nil {
		devices = c.devices
	}
	svc := messaging.NewService(c.cfg, c.store, c.convs, bus, presence, devices, c.pushes, nil)
	gw := messaging.NewGateway(c.gwcfg, svc, bus, presence, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := c.accounts.Authenticate(r.Context(), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		if err != nil {
			http.Error(w, "unauthorized", 401)
			return
		}
		gw.ServeHTTP(w, r.WithContext(courier.NewContextWithDevice(r.Context(), d)))
	}))
	c.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		gw.Close(ctx)
		srv.Close()
		svc.Close()
		bus.Close()
	})
	return &node{svc: svc, gw: gw, base: srv.URL, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

type user struct {
	id      string
	devices []*courier.Device
	tokens  []string
}

// user creates a user with n devices.
func (c *cluster) user(name string, n int) *user {
	ctx := context.Background()
	u, d, tok, err := c.accounts.CreateAccount(ctx, name, "phone")
	if err != nil {
		c.t.Fatal(err)
	}
	out := &user{id: u.ID, devices: []*courier.Device{d}, tokens: []string{tok}}
	for i := 1; i < n; i++ {
		d, tok, err := c.accounts.CreateDevice(ctx, u.ID, "device")
		if err != nil {
			c.t.Fatal(err)
		}
		out.devices = append(out.devices, d)
		out.tokens = append(out.tokens, tok)
	}
	return out
}

func (c *cluster) direct(a, b *user) string {
	conv, err := c.convs.CreateDirect(context.Background(), a.id, b.id)
	if err != nil {
		c.t.Fatal(err)
	}
	return conv.ID
}

// client is a test device on the SDK's connection layer (client.Conn),
// keeping every frame that is not an answer to a Request.
type client struct {
	t      *testing.T
	conn   *sdk.Conn
	n      int
	frames chan frame // closed when the connection ended
}

type frame = sdk.Frame

func dial(t *testing.T, n *node, token string) *client {
	t.Helper()
	c := &client{t: t, frames: make(chan frame, 4096)}
	conn, err := sdk.Dial(context.Background(), n.base, token, sdk.ConnConfig{}, func(f sdk.Frame) { c.frames <- f })
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.conn = conn
	go func() {
		<-conn.Done() // the reader ended: no more frames
		close(c.frames)
	}()
	t.Cleanup(func() { conn.Close() })
	// The server reads frames only once the socket is subscribed: a pong
	// means events now reach it.
	c.next("pong", c.send("ping", nil))
	return c
}

// rawDial opens a socket without the SDK, for what the SDK never does:
// write malformed or oversized frames, or never read.
func rawDial(t *testing.T, n *node, token string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(n.url+"/v1/ws", http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

// send writes a frame with a fresh request ID, which it returns; the
// answer arrives in frames (next).
func (c *client) send(typ string, data any) string {
	c.t.Helper()
	c.n++
	id := fmt.Sprintf("t%d", c.n)
	if err := c.conn.Send(typ, id, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return id
}

// next reads frames until one of type typ (any when "") and request id
// (any when "").
func (c *client) next(typ, id string) frame {
	c.t.Helper()
	for {
		f, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for %s %s: %v", typ, id, err)
		}
		if (typ == "" || f.Type == typ) && (id == "" || f.ID == id) {
			return f
		}
	}
}

// read returns the next frame, or why the connection ended (a
// *client.CloseError with the server's close code).
func (c *client) read(timeout time.Duration) (frame, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return f, c.conn.Err()
		}
		return f, nil
	case <-time.After(timeout):
		return frame{}, errTimeout
	}
}

// closedWith reports whether the connection ended with the close code.
func (c *client) closedWith(code int) bool {
	var ce *sdk.CloseError
	return errors.As(c.conn.Err(), &ce) && ce.Code == code
}

var errTimeout = errors.New("no frame in time")

// none asserts that no frame of type typ arrives within d.
func (c *client) none(typ string, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f, err := c.read(time.Until(deadline))
		if err != nil {
			return
		}
		if f.Type == typ {
			c.t.Fatalf("unexpected %s frame: %s", typ, f.Data)
		}
	}
}

func (c *client) errorCode(id string) messaging.ErrorData {
	c.t.Helper()
	f := c.next("error", id)
	var e messaging.ErrorData
	json.Unmarshal(f.Data, &e)
	return e
}

func decode[T any](t *testing.T, f frame) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(f.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", f.Data, err)
	}
	return v
}

func sendData(conv, clientID, body string) map[string]any {
	return map[string]any{"conversation_id": conv, "client_id": clientID, "body": []byte(body)}
}

// pushRecorder is a PushEnqueuer that records; the asynq side is tested in
// worker/.
type pushRecorder struct {
	mu  sync.Mutex
	got map[string][]int64 // device → seqs
}

func (p *pushRecorder) EnqueuePush(_ context.Context, deviceID, _ string, seq int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got[deviceID] = append(p.got[deviceID], seq)
	return nil
}

func (p *pushRecorder) seqs(deviceID string) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.got[deviceID]...)
}
