package apns

import (
	"encoding/json"
	"fmt"

	"github.com/courier-chat/courier"
)

// Payload is the JSON body of n ("Generating a remote notification"): an
// alert with mutable-content, so the Notification Service Extension runs
// and replaces the placeholder text with the preview it opens from the
// "sealed" key; or, for a silent push, content-available alone. The
// thread-id groups a conversation's notifications on the lock screen.
func Payload(n *courier.Notification) ([]byte, error) {
	aps := map[string]any{}
	switch n.Kind {
	case courier.PushSilent:
		// Apple: a background notification carries no alert, sound or
		// badge.
		aps["content-available"] = 1
	default:
		aps["alert"] = map[string]string{"body": n.Alert}
		aps["mutable-content"] = 1
		aps["sound"] = "default"
		if n.Badge != nil {
			aps["badge"] = *n.Badge
		}
		if n.CollapseID != "" {
			aps["thread-id"] = n.CollapseID
		}
	}
	p := map[string]any{"aps": aps, "v": courier.PushPreviewVersion}
	if len(n.Sealed) > 0 {
		p[courier.PushSealedKey] = n.Sealed // []byte marshals as base64
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPayload {
		return nil, &courier.PushError{Service: courier.PushAPNs, Reason: fmt.Sprintf("payload of %d bytes is over %d", len(b), MaxPayload)}
	}
	return b, nil
}
