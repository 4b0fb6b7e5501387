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
)

// Event is something a user's online devices are told. Data is the JSON
// payload of the WebSocket frame {"type": Type, "data": Data}. Origin, when
// set, names the socket whose request caused the event; that socket is not
// sent it, having had its own answer (a sent message's `sent`).
type Event struct {
	Type   string          `json:"type"`
	Data   json.RawMessage `json:"data,omitempty"`
	Origin string          `json:"origin,omitempty"`
}

// EventPublisher sends events to every online device of the given users,
// whichever API node they are connected to.
type EventPublisher interface {
	Publish(ctx context.Context, userIDs []string, e Event) error
}
