package worker

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

// PushAlert is the text a phone shows when its extension cannot replace it
// with the opened preview (no push key, an old app): never content.
const PushAlert = "New message"

// PushExpiry is how long APNs and FCM keep trying an offline phone. After a
// day the app, when opened, syncs anyway; a day-old alert helps nobody.
const PushExpiry = 24 * time.Hour

// maxSealed bounds the sealed preview so that the whole push, base64 and
// JSON around it, stays under APNs' and FCM's 4096 bytes: 2400 bytes are
// 3200 in base64, leaving 896 for aps and the rest.
const maxSealed = 2400

// collapseID names a conversation's pushes to one device: later pushes
// replace earlier ones on the lock screen. It is a hash of device and
// conversation, so Apple and Google cannot tell which devices share a
// conversation.
func collapseID(deviceID, conversationID string) string {
	h := sha256.Sum256([]byte(deviceID + "/" + conversationID))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// attachmentKind names what an attachment is for a preview.
func attachmentKind(contentType string) string {
	switch {
	case strings.HasPrefix(contentType, "image/"):
		return "photo"
	case strings.HasPrefix(contentType, "video/"):
		return "video"
	case strings.HasPrefix(contentType, "audio/"):
		return "audio"
	}
	return "file"
}

// Preview is what the device's extension is told about c's message. An
// encrypted conversation's preview has no server-readable content: the
// device's envelope when it fits, else only where to fetch it.
func Preview(c *courier.PushContent) *courier.PushPreview {
	m := c.Message
	p := &courier.PushPreview{V: courier.PushPreviewVersion, Kind: courier.PushMessage,
		ConversationID: m.ConversationID, Seq: m.Seq, SentAt: m.CreatedAt.UnixMilli(), Unread: c.Unread}
	if c.Encrypted {
		p.Encrypted = true
		p.Envelope = c.Envelope // dropped by BuildNotification when it does not fit
		return p
	}
	p.SenderID, p.SenderName = m.SenderID, c.SenderName
	if c.ConversationKind == courier.ConversationGroup {
		p.ConversationName = c.ConversationName
	}
	p.Text, p.Truncated, _ = courier.Excerpt(m.Body, courier.MaxPushTextExcerpt)
	if len(m.Attachments) > 0 {
		p.Attachment, p.Attachments = attachmentKind(c.AttachmentType), len(m.Attachments)
	}
	return p
}

// BuildNotification turns c into the device's push: an alert with the
// badge, or a silent update for a muted conversation; the preview sealed
// to the device's push key when it registered one, shortened until it
// fits. nil when there is nothing to push.
func BuildNotification(c *courier.PushContent, now time.Time) (*courier.Notification, error) {
	if c.Message == nil || c.Registration == nil {
		return nil, nil
	}
	r := c.Registration
	n := &courier.Notification{Kind: courier.PushMessage, Registration: r, Alert: PushAlert,
		CollapseID: collapseID(r.DeviceID, c.Message.ConversationID), Expiration: now.Add(PushExpiry),
		CommittedAt: c.Message.CreatedAt}
	badge := int(min(c.Badge, 1<<30))
	n.Badge = &badge
	if c.Muted {
		n.Kind, n.Badge = courier.PushSilent, nil
	}
	if r.KEM == "" {
		return n, nil
	}
	p := Preview(c)
	for range 64 { // the text halves at most a dozen times

		sealed, err := courier.SealPush(r.KEM, r.PublicKey, p)
		if err != nil {
			return nil, err
		}
		if len(sealed) <= maxSealed {
			n.Sealed = sealed
			return n, nil
		}
		// Too big: the envelope goes first (the extension fetches), then
		// the text halves until it fits.
		switch {
		case p.Envelope != nil:
			p.Envelope = nil
		case p.Text != "":
			p.Text, _, _ = courier.Excerpt([]byte(p.Text), len(p.Text)/2)
			p.Truncated = true
		default:
			p.SenderName, p.ConversationName = "", ""
		}
	}
	return nil, fmt.Errorf("push: preview does not fit %d bytes", maxSealed)
}

// TestNotification is the push `courier push test` sends: an alert that
// says it is a test, its preview sealed when the device has a push key, so
// the extension's whole path is exercised.
func TestNotification(r *courier.PushRegistration, now time.Time) (*courier.Notification, error) {
	n := &courier.Notification{Kind: courier.PushTest, Registration: r, Alert: "Test push from Courier",
		Expiration: now.Add(time.Hour)}
	if r.KEM != "" {
		sealed, err := courier.SealPush(r.KEM, r.PublicKey, &courier.PushPreview{V: courier.PushPreviewVersion,
			Kind: courier.PushTest, SentAt: now.UnixMilli(), Text: "Test push from Courier"})
		if err != nil {
			return nil, err
		}
		n.Sealed = sealed
	}
	return n, nil
}
