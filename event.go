package courier

import (
	"context"
	"encoding/json"
)

// Server events: every type of frame the server pushes to a device
// without being asked, as {"type": …, "data": …}. Each travels on the
// event bus to the user topics of the users concerned; docs/protocol.md
// shows each frame. Replies to a client's own frames (sent, synced, ok,
// pong, error) are named in messaging/frame.go.
const (
	// EventMessage carries a committed Message to every member's devices
	// (the sending socket gets `sent` instead).
	EventMessage = "message"
	// EventReceipt carries a Receipt whose watermark moved.
	EventReceipt = "receipt"
	// EventTyping {conversation_id, user_id, state, expires_in_ms} is a
	// member typing; never stored.
	EventTyping = "typing"
	// EventPresence {user_id, online, last_seen} is a contact's online
	// state, on their presence topic.
	EventPresence = "presence"
	// EventMediaReady carries a Blob the worker finished (again when its
	// MP4 is added); EventMediaFailed one it could not process.
	EventMediaReady  = "media.ready"
	EventMediaFailed = "media.failed"
	// EventDeviceRevoked {device_id} closes that device's open sockets and
	// tells the user's other devices.
	EventDeviceRevoked = "device.revoked"
	// EventResync tells a socket its live path was interrupted (its node's
	// Redis connection dropped, or it connected while Redis was away):
	// events may have been missed, and the client sends `sync` with its
	// cursors.
	EventResync = "resync"
	// EventMailbox carries a MailboxItem live to its device's sockets (and
	// to no other socket of the user).
	EventMailbox = "mailbox"
	// EventKeysLow {kem, one_time, last_resort_used} tells a device to
	// upload one-time prekeys: its stock fell under LowPrekeyThreshold, or
	// its last-resort key was handed out.
	EventKeysLow = "keys.low"
	// EventDevicesChanged {user_id} tells members of a user's
	// conversations that the user's set of devices (and so of identity
	// keys) changed: re-fetch keys and check safety numbers.
	EventDevicesChanged = "devices.changed"
	// EventConversationState carries a user's ConversationState after a
	// change (mute, archive, pin, marked unread) to all their devices.
	EventConversationState = "conversation.state"
	// EventBlocksChanged {user_id, blocked} tells a user's devices that
	// they blocked or unblocked user_id.
	EventBlocksChanged = "blocks.changed"
)

// Event is something a user's online devices are told. Data is the JSON
// payload of the WebSocket frame {"type": Type, "data": Data}. Origin, when
// set, names the socket whose request caused the event; that socket is not
// sent it, having had its own answer (a sent message's `sent`).
type Event struct {
	Type   string          `json:"type"`
	Origin string          `json:"origin,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// AppendJSON appends e to b as the JSON json.Marshal would give for it
// ({"type":…,"origin":…,"data":…}, origin and data left out when empty),
// but with Data copied as it is rather than parsed and compacted again:
// Data is JSON a Courier process encoded. The event bus and the WebSocket
// frames of events (with Origin cleared) are written by it.
func (e Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, e.Type)
	if e.Origin != "" {
		b = append(b, `,"origin":`...)
		b = appendJSONString(b, e.Origin)
	}
	if len(e.Data) > 0 {
		b = append(append(b, `,"data":`...), e.Data...)
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: as it is when it needs no
// escaping (event types and origins are plain ASCII), else by
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), s...), '"')
}

// Repeats reports whether e is prev handed on again by the event bus: the
// same Type, Origin and Data slice, as when one publish reaches several
// topics of a node (see EventBus.Handle). It compares Data by identity,
// not content, so it costs the same for any size; the bus's promise never
// to write to or reuse a slice it handed on makes a repeat equal to prev.
// Equal bytes in different slices are not repeats: a handler then does
// its work twice, which is only slower.
func (e Event) Repeats(prev Event) bool {
	return len(e.Data) > 0 && len(e.Data) == len(prev.Data) && &e.Data[0] == &prev.Data[0] &&
		e.Type == prev.Type && e.Origin == prev.Origin
}

// EventPublisher sends events to every online device of the given users,
// whichever API node they are connected to. The publisher may keep e.Data
// after Publish returns (see EventBus): the caller must not modify it.
type EventPublisher interface {
	Publish(ctx context.Context, userIDs []string, e Event) error
}
