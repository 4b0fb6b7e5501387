package courier

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
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

	// Kind, Target: a change to the earlier message Target (a reaction,
	// an edit, a delete for everyone); empty for a message.
	Kind   MessageKind `json:"kind,omitempty"`
	Target int64       `json:"target_seq,omitempty"`
	// ReplyTo is the seq of the message this one quotes.
	ReplyTo int64 `json:"reply_to,omitempty"`
	// EditedSeq, DeletedSeq: the latest edit of this message, and the
	// delete that removed it. The server keeps the edited body in place of
	// the original, and after a delete nothing but this tombstone.
	EditedSeq  int64 `json:"edited_seq,omitempty"`
	DeletedSeq int64 `json:"deleted_seq,omitempty"`
	// Reactions counts the members' current reactions by emoji, in a
	// plain conversation, when the message is read from history or sync.
	Reactions map[string]int `json:"reactions,omitempty"`
}

// MessageKind says what an entry of a conversation's log is. A change to
// an earlier message is an entry of its own, with its own seq, so sync,
// order and receipts treat it as they treat a message (docs/protocol.md,
// "Replies, reactions, edits and deletes").
type MessageKind string

const (
	KindMessage MessageKind = ""
	// KindReaction sets the sender's one reaction to Target: in a plain
	// conversation Body is the emoji (at most MaxReactionLen bytes of
	// text), in an encrypted one ciphertext; an empty Body removes it.
	KindReaction MessageKind = "reaction"
	// KindEdit replaces Target's body: only its sender, within the edit
	// window, and never after a delete.
	KindEdit MessageKind = "edit"
	// KindDelete removes Target for everyone: its body, its attachments
	// and the text of its edits. Its sender within the delete window, or
	// an admin of a group at any time. Body and attachments are empty.
	KindDelete MessageKind = "delete"
)

// MaxReactionLen bounds a plain reaction: one emoji, however many code
// points it takes (a family with skin tones is 35 bytes).
const MaxReactionLen = 64

// Default windows for changes, as WhatsApp has them.
const (
	DefaultEditWindow   = 15 * time.Minute
	DefaultDeleteWindow = 48 * time.Hour
)

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
	// Kind and Target make this a change to an earlier message; ReplyTo
	// quotes one (a message only).
	Kind    MessageKind
	Target  int64
	ReplyTo int64
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
	case len(r.Devices) > MaxSendDevices:
		return Errorf(ETOOLARGE, "at most %d recipient devices", MaxSendDevices)
	}
	return r.validateKind()
}

// validateKind checks the fields that depend on the kind of entry.
func (r *SendRequest) validateKind() error {
	switch r.Kind {
	case KindMessage:
		switch {
		case r.Target != 0:
			return Errorf(EINVALID, "target_seq is for reactions, edits and deletes")
		case r.ReplyTo < 0:
			return Errorf(EINVALID, "reply_to must be a seq")
		case len(r.Body) == 0 && len(r.Attachments) == 0:
			return Errorf(EINVALID, "a message needs a body or attachments")
		}
		return nil
	case KindReaction, KindEdit, KindDelete:
	default:
		return Errorf(EINVALID, "unknown kind %q", r.Kind)
	}
	switch {
	case r.Target <= 0:
		return Errorf(EINVALID, "a %s needs target_seq, the seq of the message it changes", r.Kind)
	case r.ReplyTo != 0:
		return Errorf(EINVALID, "only a message can reply_to another")
	case len(r.Attachments) > 0:
		return Errorf(EINVALID, "a %s carries no attachments", r.Kind)
	case r.Kind == KindEdit && len(r.Body) == 0:
		return Errorf(EINVALID, "an edit needs the new body")
	case r.Kind == KindDelete && len(r.Body) > 0:
		return Errorf(EINVALID, "a delete carries no body")
	}
	return nil
}

// PlainReaction reports whether body can be a reaction in a plain
// conversation: empty (removal) or short text with no control characters.
func PlainReaction(body []byte) bool {
	if len(body) > MaxReactionLen || !utf8.Valid(body) {
		return false
	}
	for _, r := range string(body) {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
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
