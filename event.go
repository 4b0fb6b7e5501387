package courier

import (
	"context"
	"encoding/json"
)

// Event types sent to devices over the event bus.
const (
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

// EventPublisher sends events to every online device of the given users,
// whichever API node they are connected to.
type EventPublisher interface {
	Publish(ctx context.Context, userIDs []string, e Event) error
}
