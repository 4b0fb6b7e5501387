package courier

import (
	"context"
	"fmt"
	"time"
)

// Push services a device registers with.
const (
	PushAPNs = "apns" // Apple Push Notification service (iOS, macOS)
	PushFCM  = "fcm"  // Firebase Cloud Messaging HTTP v1 (Android, and iOS through Firebase)
)

// APNs environments: a development build's token is only valid on the
// sandbox host, an App Store or TestFlight build's only on production.
const (
	PushSandbox    = "sandbox"
	PushProduction = "production"
)

// Push encryption keys. Each names a whole HPKE suite (RFC 9180), chosen
// to match CryptoKit's predefined ciphersuites so an iOS Notification
// Service Extension opens the sealed preview with one call.
const (
	// PushKEMXWing is X-Wing (ML-KEM-768 + X25519) with HKDF-SHA256 and
	// AES-256-GCM: CryptoKit's XWingMLKEM768X25519_SHA256_AES_GCM_256
	// (iOS 26). Safe against recorded traffic meeting a quantum computer.
	PushKEMXWing = "xwing"
	// PushKEMX25519 is DHKEM(X25519, HKDF-SHA256) with HKDF-SHA256 and
	// ChaCha20-Poly1305: CryptoKit's Curve25519_SHA256_ChachaPoly (iOS 17).
	PushKEMX25519 = "x25519"
)

// Bounds on what a device registers: APNs tokens are 32 bytes (64 hex
// digits) today, FCM tokens about 160 characters; both have grown before.
const (
	MaxPushTokenLen = 4096
	MaxPushTopicLen = 255
)

// PushRegistration is where and how a device's pushes go. A device has at
// most one; registering again replaces it. It goes with the device when
// the device is revoked.
type PushRegistration struct {
	DeviceID string `json:"device_id"`
	UserID   string `json:"-"`
	// Service is PushAPNs or PushFCM.
	Service string `json:"service"`
	// Token is the APNs device token (hex) or the FCM registration token.
	Token string `json:"token"`
	// Topic is the app's bundle ID, sent as apns-topic. APNs only.
	Topic string `json:"topic,omitempty"`
	// Environment is PushSandbox or PushProduction. APNs only.
	Environment string `json:"environment,omitempty"`
	// KEM and PublicKey are the device's push encryption key (the HPKE
	// public key, serialized as RFC 9180 SerializePublicKey). Without one
	// the device gets content-free alerts and syncs to learn more.
	KEM       string    `json:"kem,omitempty"`
	PublicKey []byte    `json:"public_key,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate checks a registration as a client sent it; the public key's
// bytes are checked against its KEM by ParsePushKey.
func (r *PushRegistration) Validate() error {
	switch {
	case r.Service != PushAPNs && r.Service != PushFCM:
		return Errorf(EINVALID, "service must be %q or %q", PushAPNs, PushFCM)
	case r.Token == "" || len(r.Token) > MaxPushTokenLen || !printableASCII(r.Token):
		return Errorf(EINVALID, "token must be 1 to %d printable ASCII characters", MaxPushTokenLen)
	case r.Service == PushAPNs && (r.Topic == "" || len(r.Topic) > MaxPushTopicLen || !printableASCII(r.Topic)):
		return Errorf(EINVALID, "an APNs registration needs topic: the app's bundle ID")
	case r.Service == PushAPNs && r.Environment != PushSandbox && r.Environment != PushProduction:
		return Errorf(EINVALID, "an APNs registration needs environment %q or %q", PushSandbox, PushProduction)
	case r.KEM == "" && len(r.PublicKey) > 0, r.KEM != "" && len(r.PublicKey) == 0:
		return Errorf(EINVALID, "kem and public_key go together")
	}
	if r.KEM != "" {
		if _, err := ParsePushKey(r.KEM, r.PublicKey); err != nil {
			return err
		}
	}
	return nil
}

// printableASCII reports whether s is visible ASCII: tokens and topics go
// into HTTP paths and headers, where anything else is trouble.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// PushKind says what a push is for. Calls (VoIP pushes, with their own
// priority and expiry) are a kind to come.
type PushKind string

const (
	// PushMessage is an alert for new messages.
	PushMessage PushKind = "message"
	// PushSilent updates the app without an alert: a muted conversation.
	PushSilent PushKind = "silent"
	// PushTest is what `courier push test` sends.
	PushTest PushKind = "test"
)

// Notification is one push to one device, ready for a provider: the
// provider turns it into its own request (headers, JSON) and adds nothing
// of its own but credentials.
type Notification struct {
	Kind         PushKind
	Registration *PushRegistration
	// Alert is the text shown when the extension cannot run or open the
	// payload; it never carries message content.
	Alert string
	// Badge is the user's unread count; nil leaves the badge as it is.
	Badge *int
	// CollapseID makes later pushes of a conversation replace earlier ones
	// on the lock screen (apns-collapse-id, FCM collapse_key). At most 64
	// bytes.
	CollapseID string
	// Sealed is the HPKE-sealed PushPreview (SealPush); empty without a
	// push key. Providers send it base64 as the "sealed" field.
	Sealed []byte
	// Expiration is when the provider may stop trying; zero for "once".
	Expiration time.Time
	// CommittedAt is when the newest message of the push was committed,
	// for the commit-to-provider latency metric.
	CommittedAt time.Time
}

// PushError is a provider's refusal of a notification.
type PushError struct {
	Service string // PushAPNs or PushFCM
	Status  int    // HTTP status of the provider's answer, 0 if none
	// Reason is the provider's own reason ("BadDeviceToken",
	// "UNREGISTERED", …) or a word of ours ("transport").
	Reason string
	// TokenGone means the token will never work again: remove it.
	TokenGone bool
	// Retry means the same notification may succeed later, no sooner
	// than RetryAfter when that is set.
	Retry      bool
	RetryAfter time.Duration
}

func (e *PushError) Error() string {
	return fmt.Sprintf("push %s: status %d: %s", e.Service, e.Status, e.Reason)
}

// PushSender sends notifications to one push service (apns.Client,
// fcm.Client). Errors are *PushError when the service answered.
type PushSender interface {
	Send(ctx context.Context, n *Notification) error
}

// PushStore keeps push registrations and conversation mutes.
type PushStore interface {
	// RegisterPush stores r for its device, replacing what it had. A token
	// moves: another device holding the same token loses it (an app
	// reinstalled and signed in as someone else).
	RegisterPush(ctx context.Context, r *PushRegistration) error
	// PushRegistration returns the device's registration, or ENOTFOUND.
	PushRegistration(ctx context.Context, deviceID string) (*PushRegistration, error)
	// UnregisterPush removes the device's registration (ENOTFOUND if none).
	UnregisterPush(ctx context.Context, deviceID string) error
	// RemovePushToken removes the registration only while it still holds
	// token: a provider said the token is gone, and a newer one the device
	// registered meanwhile must survive. It reports whether it removed.
	RemovePushToken(ctx context.Context, deviceID, token string) (bool, error)
	// DeviceForPushToken returns the live device registered with token,
	// or EUNAUTHORIZED.
	DeviceForPushToken(ctx context.Context, token string) (*Device, error)
	// MuteConversation mutes the conversation for the user until then
	// (the zero time unmutes; a far future time mutes for good). The user
	// must be a member (ENOTFOUND).
	MuteConversation(ctx context.Context, userID, conversationID string, until time.Time) error
}

// PushContent is what one device's push for one conversation says, read in
// one go when the push job runs (so a push sent late shows the newest
// message, and one whose messages were read meanwhile is not sent).
type PushContent struct {
	Registration     *PushRegistration
	ConversationKind ConversationKind
	ConversationName string
	// Encrypted conversations get no server preview.
	Encrypted bool
	// Muted: the user muted the conversation; the push is silent.
	Muted bool
	// Unread is the user's unread count in this conversation, Badge in
	// all their conversations.
	Unread int64
	Badge  int64
	// Message is the newest message from someone else the user has not
	// read, its body cut to at most MaxPushTextExcerpt+4 bytes; nil when
	// there is none (read on another device, or the user left).
	Message *Message
	// Envelope is the device's envelope of Message in an encrypted
	// conversation: the message body, one envelope for every recipient
	// device (docs/e2e.md); nil when it is over MaxPushEnvelope. Message
	// then has no Body.
	Envelope   []byte
	SenderName string
	// AttachmentType is the content type of Message's first attachment.
	AttachmentType string
}

// MaxPushEnvelope is the largest envelope of an encrypted conversation a
// push carries: base64 in the sealed JSON preview, after an X-Wing
// encapsulation, a bigger one never fits the provider's 4 KB. Bigger
// ones are fetched by the extension.
const MaxPushEnvelope = 1024

// PushSealedKey is the custom key under which both providers carry the
// sealed preview, base64 (APNs: beside "aps"; FCM: in "data").
const PushSealedKey = "sealed"
