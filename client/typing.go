package client

import (
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// Typing debounce (docs/client.md): a `start` goes out once the user has
// been typing for typingDelay, is refreshed every typingRefresh while they
// go on (the server shows a start for 6 s), and a `stop` follows
// typingIdle after the last keystroke, or at once when the message is sent.
const (
	typingDelay   = 500 * time.Millisecond
	typingRefresh = 4 * time.Second
	typingIdle    = 3 * time.Second
	typingTick    = 100 * time.Millisecond
)

// typingState tracks what the user is typing where.
type typingState struct {
	c      *Client
	mu     sync.Mutex
	convs  map[string]*typingConv
	ticker *time.Ticker
	done   chan struct{}
}

type typingConv struct {
	first, last, sentStart time.Time
	started                bool
}

func (t *typingState) init(c *Client) {
	t.c, t.convs, t.done = c, map[string]*typingConv{}, make(chan struct{})
}

// Typing tells the client the user pressed a key in the conversation. Call
// it on every keystroke; the client decides when the server hears of it.
func (c *Client) Typing(conversationID string) {
	t := &c.typing
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	tc := t.convs[conversationID]
	if tc == nil {
		tc = &typingConv{first: now}
		t.convs[conversationID] = tc
	}
	tc.last = now
	if t.ticker == nil {
		t.ticker = time.NewTicker(typingTick)
		go t.loop(t.ticker)
	}
}

// StopTyping ends typing in the conversation now (Send calls it).
func (c *Client) StopTyping(conversationID string) {
	t := &c.typing
	t.mu.Lock()
	tc := t.convs[conversationID]
	delete(t.convs, conversationID)
	t.mu.Unlock()
	if tc != nil && tc.started {
		c.sendTyping(conversationID, "stop")
	}
}

// loop checks every conversation being typed in until none is left.
func (t *typingState) loop(tk *time.Ticker) {
	for {
		select {
		case <-t.done:
			return
		case now := <-tk.C:
			type out struct{ conv, state string }
			var send []out
			t.mu.Lock()
			for conv, tc := range t.convs {
				switch {
				case now.Sub(tc.last) >= typingIdle:
					if tc.started {
						send = append(send, out{conv, "stop"})
					}
					delete(t.convs, conv)
				case !tc.started && tc.last.Sub(tc.first) >= typingDelay,
					tc.started && now.Sub(tc.sentStart) >= typingRefresh:
					tc.started, tc.sentStart = true, now
					send = append(send, out{conv, "start"})
				}
			}
			idle := len(t.convs) == 0
			if idle {
				tk.Stop()
				t.ticker = nil
			}
			t.mu.Unlock()
			for _, o := range send {
				t.c.sendTyping(o.conv, o.state)
			}
			if idle {
				return // the next Typing starts a new loop
			}
		}
	}
}

func (t *typingState) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.done:
	default:
		close(t.done)
	}
}

// sendTyping sends a typing frame if online; typing is never queued (a
// start that arrives late is wrong, not late).
func (c *Client) sendTyping(conv, state string) {
	if conn := c.currentConn(); conn != nil {
		conn.Send(courier.FrameTyping, "t", map[string]string{"conversation_id": conv, "state": state})
	}
}
