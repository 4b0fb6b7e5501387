package courier

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is stored once, in one conversation, with a sequence number
// assigned at commit: 1, 2, 3 … with no gaps. Order is by Seq, never by
// client clocks. Body is opaque bytes (ciphertext in e2e conversations).
type Message struct {
	ConversationID string    `json:"conversation_id"`
	Seq            int64     `json:"seq"`
	SenderID       string    `json:"sender_id"`
	SenderDeviceID string    `json:"sender_device_id"`
	ClientID       string    `json:"client_id"`
	Body           []byte    `json:"body"`
	Attachments    []string  `json:"attachments,omitempty"`
	CreatedAt      time.Time `json:"ts"`
}

// MessageMeta is a message without its body, for conversation lists.
type MessageMeta struct {
	Seq         int64     `json:"seq"`
	SenderID    string    `json:"sender_id"`
	CreatedAt   time.Time `json:"ts"`
	Attachments int       `json:"attachments,omitempty"`
}

// SendRequest is what a device asks to send.
type SendRequest struct {
	ConversationID string
	ClientID       string // unique per sending device; resends reuse it
	Body           []byte
	Attachments    []string // blob IDs the sender owns or may already read
	// Devices, in an encrypted conversation, are the recipient devices
	// the sender encrypted for: every live device with an identity key of
	// every member, the sending device left out. Any other set is refused
	// with a *DeviceMismatch. Empty in plain conversations.
	Devices []string
}

// MaxSendDevices bounds the recipient devices one send names: a full
// group with a few devices per member.
const MaxSendDevices = 8 * MaxGroupMembers

// DeviceMismatch refuses an encrypted send whose recipient devices are not
// the conversation's (ECONFLICT, HTTP 409): Missing are devices it must
// also encrypt for, Extra devices that are no longer recipients. The
// client fetches keys for the missing ones, starts a new chain and sends
// again (docs/e2e.md, "Sending").
type DeviceMismatch struct {
	Missing []string `json:"missing_devices,omitempty"`
	Extra   []string `json:"extra_devices,omitempty"`
}

func (d *DeviceMismatch) Error() string {
	return fmt.Sprintf("recipient devices differ: %d missing, %d extra", len(d.Missing), len(d.Extra))
}

// Err wraps d as the ECONFLICT error the edges answer with.
func (d *DeviceMismatch) Err() *Error {
	return &Error{Code: ECONFLICT, Message: "recipient devices differ from the conversation's; fetch keys and encrypt again",
		Devices: d}
}

// MaxClientIDLen bounds a client message ID.
const MaxClientIDLen = 64

// Validate checks what every edge accepts the same way: sizes first (so an
// oversized message is refused as such), then a client ID, then that there
// is something to send. Who may send where is the store's to check.
func (r *SendRequest) Validate() error {
	switch {
	case len(r.Body) > MaxMessageBody:
		return Errorf(ETOOLARGE, "body is over %d bytes", MaxMessageBody)
	case len(r.Attachments) > MaxAttachments:
		return Errorf(ETOOLARGE, "at most %d attachments", MaxAttachments)
	case r.ClientID == "" || len(r.ClientID) > MaxClientIDLen:
		return Errorf(EINVALID, "client_id is required, at most %d bytes", MaxClientIDLen)
	case !utf8.ValidString(r.ClientID) || strings.ContainsRune(r.ClientID, 0):
		// PostgreSQL text holds neither: refused here, not as a failed insert.
		return Errorf(EINVALID, "client_id must be UTF-8 text without NUL")
	case len(r.Body) == 0 && len(r.Attachments) == 0:
		return Errorf(EINVALID, "a message needs a body or attachments")
	case len(r.Devices) > MaxSendDevices:
		return Errorf(ETOOLARGE, "at most %d recipient devices", MaxSendDevices)
	}
	return nil
}

// ReceiptKind is delivered or read.
type ReceiptKind string

const (
	ReceiptDelivered ReceiptKind = "delivered"
	ReceiptRead      ReceiptKind = "read"
)

// Receipt is a member's watermarks in a conversation after an update.
type Receipt struct {
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	DeliveredSeq   int64  `json:"delivered_seq"`
	ReadSeq        int64  `json:"read_seq"`
}

// MessageStore stores messages durably and reads them back in order.
type MessageStore interface {
	// Send checks membership and attachments, assigns the next seq and the
	// server timestamp, and returns only after commit. A repeat of
	// (device, ClientID) returns the original message and created=false.
	Send(ctx context.Context, from *Device, req SendRequest) (msg *Message, created bool, err error)

	// Messages returns up to limit messages with after < seq < before
	// (before 0 means no upper bound), ascending; the user must be a
	// member, and sees nothing committed after their removal.
	Messages(ctx context.Context, userID, conversationID string, after, before int64, limit int) ([]*Message, error)

	// UpdateReceipt moves the user's delivered or read watermark forward
	// to seq (never back; read implies delivered). moved is false when
	// nothing changed.
	UpdateReceipt(ctx context.Context, userID, conversationID string, kind ReceiptKind, seq int64) (r Receipt, moved bool, err error)
}
