package client

import (
	"sync"
	"time"
)

// Event is something the UI may want to redraw for. Every event is one of
// the types below; a UI switches on the type (in Swift, an enum with
// associated values). Events are hints: the store already holds the
// change when the event is emitted, so a UI that missed events just reads
// the store again.
type Event interface{ isEvent() }

// MessageEvent: a message arrived and is stored (live, in a sync, or a
// copy of one the user sent from another device).
type MessageEvent struct{ Message Message }

// StateEvent: an own message changed state (sent, delivered, read,
// failed) — delivered and read come from receipts, one event per message.
type StateEvent struct {
	ConversationID string
	MessageID      int64
	Seq            int64
	State          MessageState
	Error          string // with MessageFailed
}

// ConversationEvent: a conversation's details (name, members) were
// fetched or changed.
type ConversationEvent struct{ ConversationID string }

// ReceiptEvent: a member's watermarks moved.
type ReceiptEvent struct {
	ConversationID string
	UserID         string
	DeliveredSeq   int64
	ReadSeq        int64
}

// TypingEvent: another member started or stopped typing. A start holds
// until Expires unless refreshed.
type TypingEvent struct {
	ConversationID string
	UserID         string
	Typing         bool
	Expires        time.Time
}

// PresenceEvent: a direct contact came online or left.
type PresenceEvent struct {
	UserID   string
	Online   bool
	LastSeen time.Time
}

// MediaEvent: a blob finished processing (ready, with its variants) or
// failed, or an upload of an own attachment progressed.
type MediaEvent struct {
	BlobID   string
	State    string // uploading, processing, ready or failed
	Offset   int64  // uploading: bytes the server holds
	Size     int64
	Reason   string // failed: why
	UploadID string // uploading: the attachment's local ID
}

// ConnectionEvent: the connection's state changed.
type ConnectionEvent struct {
	State ConnectionState
	Err   error // why the last connection ended, when it did
}

// DeviceRevokedEvent: one of the user's devices was revoked (this one
// sees ConnectionEvent{State: Revoked} instead).
type DeviceRevokedEvent struct{ DeviceID string }

// IdentityChangedEvent: a contact's identity keys (of an encrypted
// conversation) are no longer those accepted: a device was added, reset
// or revoked, or the directory served a key that is not the device's.
// ContactTrust says TrustChanged until the user compares safety numbers
// and calls Verify.
type IdentityChangedEvent struct{ UserID string }

func (MessageEvent) isEvent()         {}
func (StateEvent) isEvent()           {}
func (ConversationEvent) isEvent()    {}
func (ReceiptEvent) isEvent()         {}
func (TypingEvent) isEvent()          {}
func (PresenceEvent) isEvent()        {}
func (MediaEvent) isEvent()           {}
func (ConnectionEvent) isEvent()      {}
func (DeviceRevokedEvent) isEvent()   {}
func (IdentityChangedEvent) isEvent() {}

// ConnectionState is where the connection is.
type ConnectionState string

const (
	Offline    ConnectionState = "offline"    // not connected; retrying after a backoff
	Connecting ConnectionState = "connecting" // dialing
	Syncing    ConnectionState = "syncing"    // connected, catching up
	Online     ConnectionState = "online"     // caught up; live
	Revoked    ConnectionState = "revoked"    // the token was refused or revoked: sign in again
	Replaced   ConnectionState = "replaced"   // a newer socket of this device (or user) took over: stopped until Start
	Closed     ConnectionState = "closed"     // Close was called
)

// eventQueue hands events to one reader without ever blocking the
// client: events wait in a slice until read. A UI that stops reading
// costs memory, not progress.
type eventQueue struct {
	mu     sync.Mutex
	queue  []Event
	signal chan struct{}
	out    chan Event
	done   chan struct{}
}

func newEventQueue() *eventQueue {
	q := &eventQueue{signal: make(chan struct{}, 1), out: make(chan Event), done: make(chan struct{})}
	go q.pump()
	return q
}

func (q *eventQueue) emit(e Event) {
	q.mu.Lock()
	q.queue = append(q.queue, e)
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// pump moves queued events to out, in order, until close.
func (q *eventQueue) pump() {
	defer close(q.out)
	for {
		q.mu.Lock()
		batch := q.queue
		q.queue = nil
		q.mu.Unlock()
		for _, e := range batch {
			select {
			case q.out <- e:
			case <-q.done:
				return
			}
		}
		select {
		case <-q.signal:
		case <-q.done:
			return
		}
	}
}

func (q *eventQueue) close() { close(q.done) }
