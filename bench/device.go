package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/messaging"
)

// benchDialer keeps the bench's own sockets small: it holds as many of
// them as the server does, on the same two cores.
var benchDialer = &websocket.Dialer{
	ReadBufferSize:   2048,
	WriteBufferSize:  1024,
	WriteBufferPool:  &sync.Pool{},
	HandshakeTimeout: 30 * time.Second,
}

// benchWindow is the measured interval. A message counts when its send
// stamp falls inside it, wherever and whenever it is delivered.
type benchWindow struct{ start, end atomic.Int64 }

func (w *benchWindow) set(start time.Time, d time.Duration) {
	w.end.Store(start.Add(d).UnixNano())
	w.start.Store(start.UnixNano())
}

func (w *benchWindow) in(stamp int64) bool {
	return stamp >= w.start.Load() && stamp < w.end.Load() && stamp != 0
}

// wsDevice is one connected device on the SDK's connection layer. Frames
// no request waits for (messages from others, answers to open-loop sends)
// are counted by the connection's reader goroutine; delivered and
// latencies are read after the connection closed.
type wsDevice struct {
	benchAccount
	conn   *client.Conn
	window *benchWindow

	sentN     atomic.Int64 // sends the server committed
	delivered int64        // others' in-window messages received (reader-owned)
	latencies []time.Duration
	byConv    map[string][]time.Duration // the same latencies per conversation, when asked for
	nextID    atomic.Int64
}

func dialDevice(ctx context.Context, baseURL string, a benchAccount, w *benchWindow) (*wsDevice, error) {
	return dialDeviceBy(ctx, baseURL, a, w, false)
}

// dialDeviceBy is dialDevice that also keeps latencies per conversation
// when byConv is set.
func dialDeviceBy(ctx context.Context, baseURL string, a benchAccount, w *benchWindow, byConv bool) (*wsDevice, error) {
	d := &wsDevice{benchAccount: a, window: w}
	if byConv {
		d.byConv = map[string][]time.Duration{}
	}
	conn, err := client.Dial(ctx, baseURL, a.Token, client.ConnConfig{Dialer: benchDialer}, d.handle)
	if err != nil {
		return nil, err
	}
	d.conn = conn
	return d, nil
}

// dialDevices connects every account, 64 handshakes at a time.
func dialDevices(ctx context.Context, baseURL string, accounts []benchAccount, w *benchWindow) ([]*wsDevice, error) {
	return dialDevicesBy(ctx, baseURL, accounts, w, false)
}

func dialDevicesBy(ctx context.Context, baseURL string, accounts []benchAccount, w *benchWindow, byConv bool) ([]*wsDevice, error) {
	devs := make([]*wsDevice, len(accounts))
	err := benchParallel(ctx, len(accounts), 64, func(ctx context.Context, i int) (err error) {
		devs[i], err = dialDeviceBy(ctx, baseURL, accounts[i], w, byConv)
		return err
	})
	if err != nil {
		closeDevices(devs)
		return nil, err
	}
	return devs, nil
}

// closeDevices hangs up every socket; Close waits for each reader to end,
// so their counters can be read.
func closeDevices(devs []*wsDevice) {
	for _, d := range devs {
		if d != nil {
			d.conn.Close()
		}
	}
}

// handle counts a frame no request waits for.
func (d *wsDevice) handle(f client.Frame) {
	switch f.Type {
	case courier.FrameSent:
		d.sentN.Add(1)
	case courier.EventMessage:
		now := time.Now()
		var m struct {
			ConversationID string `json:"conversation_id"`
			SenderDeviceID string `json:"sender_device_id"`
			ClientID       string `json:"client_id"`
		}
		if f.Decode(&m) != nil {
			return
		}
		stamp := clientIDStamp(m.ClientID)
		// The sending socket holds its own messages by their `sent`
		// answers; another socket of the device would get them here.
		if m.SenderDeviceID != d.DeviceID && d.window.in(stamp) {
			lat := now.Sub(time.Unix(0, stamp))
			d.delivered++
			d.latencies = append(d.latencies, lat)
			if d.byConv != nil {
				d.byConv[m.ConversationID] = append(d.byConv[m.ConversationID], lat)
			}
		}
	}
}

// sendData is a send frame's data, with a fresh client ID, whose body
// starts with the send time.
func (d *wsDevice) sendData(conv string, bodySize int) (stamp int64, id string, data json.RawMessage) {
	body := make([]byte, max(bodySize, 8))
	stamp = time.Now().UnixNano()
	binary.BigEndian.PutUint64(body, uint64(stamp))
	id = strconv.FormatInt(d.nextID.Add(1), 10)
	data, _ = json.Marshal(messaging.SendData{ConversationID: conv, ClientID: d.clientID(id, stamp), Body: body})
	return stamp, id, data
}

// clientID is a message's client ID: unique per device, and ending with
// the send time, so a recipient reads the latency of a message whose body
// it cannot read (an encrypted one) without any state shared with the
// sender.
func (d *wsDevice) clientID(id string, stamp int64) string {
	return d.DeviceID + "-" + id + "-" + strconv.FormatInt(stamp, 10)
}

// clientIDStamp reads the send time back from a client ID; 0 when it
// carries none.
func clientIDStamp(clientID string) int64 {
	i := strings.LastIndexByte(clientID, '-')
	if i < 0 {
		return 0
	}
	stamp, _ := strconv.ParseInt(clientID[i+1:], 10, 64)
	return stamp
}

// send sends a message without waiting for its answer (open loop); the
// reader counts the answer.
func (d *wsDevice) send(conv string, bodySize int) error {
	_, id, data := d.sendData(conv, bodySize)
	return d.conn.Send(courier.FrameSend, id, data)
}

// sendAndWait sends one message and waits for its answer: one message in
// flight per device, as a phone sends. It returns the send stamp and the
// time to the sent answer.
func (d *wsDevice) sendAndWait(ctx context.Context, conv string, bodySize int) (int64, time.Duration, error) {
	stamp, _, data := d.sendData(conv, bodySize)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := d.conn.Request(ctx, courier.FrameSend, data); err != nil {
		return 0, 0, err
	}
	d.sentN.Add(1)
	return stamp, time.Since(time.Unix(0, stamp)), nil
}

// closed reports whether the socket has gone.
func (d *wsDevice) closed() bool { return d.conn.Err() != nil }

// percentileMS returns the p-th percentile (0–100) of ds in milliseconds;
// ds is sorted in place.
func percentileMS(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p / 100)
	return float64(ds[i].Microseconds()) / 1000
}
