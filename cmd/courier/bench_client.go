package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
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

// benchAck is the answer to a send: sent, or an error frame.
type benchAck struct {
	code string
}

// wsDevice is one connected device. Its reader goroutine counts and times
// the messages other devices sent it; the counters are read after done.
type wsDevice struct {
	benchAccount
	ws     *websocket.Conn
	window *benchWindow
	acks   chan benchAck // the closed-loop sender waits here
	done   chan struct{}

	sentN     atomic.Int64 // sent frames received (acknowledged after commit)
	delivered int64        // others' in-window messages received (reader-owned)
	latencies []time.Duration
	errFrames atomic.Int64
	nextID    int64
}

// wsURL turns a node's http:// URL into its WebSocket endpoint.
func wsURL(httpURL string) string {
	return "ws" + strings.TrimPrefix(httpURL, "http") + "/v1/ws"
}

func dialDevice(ctx context.Context, url string, a benchAccount, w *benchWindow) (*wsDevice, error) {
	h := http.Header{"Authorization": {"Bearer " + a.Token}}
	ws, resp, err := benchDialer.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (%s)", err, resp.Status)
		}
		return nil, err
	}
	d := &wsDevice{benchAccount: a, ws: ws, window: w, acks: make(chan benchAck, 1), done: make(chan struct{})}
	go d.read()
	return d, nil
}

// dialDevices connects every account, 64 handshakes at a time.
func dialDevices(ctx context.Context, url string, accounts []benchAccount, w *benchWindow) ([]*wsDevice, error) {
	devs := make([]*wsDevice, len(accounts))
	err := benchParallel(ctx, len(accounts), 64, func(ctx context.Context, i int) (err error) {
		devs[i], err = dialDevice(ctx, url, accounts[i], w)
		return err
	})
	if err != nil {
		closeDevices(devs)
		return nil, err
	}
	return devs, nil
}

// closeDevices hangs up every socket and waits for the readers to end, so
// their counters can be read.
func closeDevices(devs []*wsDevice) {
	for _, d := range devs {
		if d != nil {
			d.ws.Close()
		}
	}
	for _, d := range devs {
		if d != nil {
			<-d.done
		}
	}
}

// read handles server frames until the socket closes.
func (d *wsDevice) read() {
	defer close(d.done)
	var f struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	var m struct {
		SenderDeviceID string `json:"sender_device_id"`
		Body           []byte `json:"body"`
	}
	for {
		_, b, err := d.ws.ReadMessage()
		if err != nil {
			return
		}
		f.Data = f.Data[:0]
		if json.Unmarshal(b, &f) != nil {
			d.errFrames.Add(1)
			continue
		}
		switch f.Type {
		case messaging.FrameSent:
			d.sentN.Add(1)
			d.ack(benchAck{})
		case messaging.FrameError:
			var e messaging.ErrorData
			json.Unmarshal(f.Data, &e)
			d.errFrames.Add(1)
			d.ack(benchAck{code: e.Code})
		case courier.EventMessage:
			now := time.Now()
			m.Body = m.Body[:0]
			if json.Unmarshal(f.Data, &m) != nil || len(m.Body) < 8 {
				continue
			}
			stamp := int64(binary.BigEndian.Uint64(m.Body))
			// The sending socket holds its own messages by their `sent`
			// answers; another socket of the device would get them here.
			if m.SenderDeviceID != d.DeviceID && d.window.in(stamp) {
				d.delivered++
				d.latencies = append(d.latencies, now.Sub(time.Unix(0, stamp)))
			}
		}
	}
}

// ack hands the answer to a waiting sender; nobody waits in open loop.
func (d *wsDevice) ack(a benchAck) {
	select {
	case d.acks <- a:
	default:
	}
}

// send writes a send frame whose body starts with the send time, and
// returns that time.
func (d *wsDevice) send(conv string, bodySize int) (stamp int64, err error) {
	body := make([]byte, max(bodySize, 8))
	stamp = time.Now().UnixNano()
	binary.BigEndian.PutUint64(body, uint64(stamp))
	d.nextID++
	id := strconv.FormatInt(d.nextID, 10)
	data, _ := json.Marshal(messaging.SendData{ConversationID: conv, ClientID: d.DeviceID + "-" + id, Body: body})
	frame, _ := json.Marshal(messaging.Frame{Type: messaging.FrameSend, ID: id, Data: data})
	d.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return stamp, d.ws.WriteMessage(websocket.TextMessage, frame)
}

// sendAndWait sends one message and waits for its answer: one message in
// flight per device, as a phone sends. It returns the send stamp and the
// time to the sent answer.
func (d *wsDevice) sendAndWait(conv string, bodySize int) (int64, time.Duration, error) {
	stamp, err := d.send(conv, bodySize)
	if err != nil {
		return 0, 0, err
	}
	select {
	case a := <-d.acks:
		if a.code != "" {
			return 0, 0, fmt.Errorf("send answered with error %s", a.code)
		}
		return stamp, time.Since(time.Unix(0, stamp)), nil
	case <-d.done:
		return 0, 0, errors.New("socket closed")
	case <-time.After(30 * time.Second):
		return 0, 0, errors.New("no answer to send in 30s")
	}
}

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
