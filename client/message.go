package client

import (
	"time"
)

// MessageState is where a message is in its life, as the UI shows it.
//
//	own:    pending ─sent→ sent ─every other member's delivered_seq ≥ seq→ delivered ─read_seq ≥ seq→ read
//	        pending ─permanent error→ failed ─Retry→ pending
//	others': received
//
// Sent, delivered and read are not stored per message: sent is stored
// (the server gave the message its seq) and delivered and read follow from
// the members' receipt watermarks whenever a message is read from the
// store, so one receipt moves every earlier message at once.
type MessageState string

const (
	MessagePending   MessageState = "pending"   // in the outbox, not acknowledged
	MessageSent      MessageState = "sent"      // committed by the server, has a seq
	MessageDelivered MessageState = "delivered" // every other member's device has it
	MessageRead      MessageState = "read"      // every other member read it
	MessageFailed    MessageState = "failed"    // refused for good; Error says why
	MessageReceived  MessageState = "received"  // someone else's message
)

// Message is one message as the client holds it.
type Message struct {
	ID             int64  // local row ID: stable from Send on, before any seq
	ConversationID string // conversation it belongs to
	Seq            int64  // server sequence number; 0 while pending
	ClientID       string // the sender's client message ID
	SenderID       string
	SenderDeviceID string
	Body           []byte   // opaque bytes: text (decrypted, in encrypted conversations)
	Attachments    []string // blob IDs (known once the uploads finished)
	Time           time.Time
	State          MessageState
	Error          string // the server's error code and message when failed
	// Locked: a message of an encrypted conversation this device cannot
	// read (yet): its sender key has not arrived, or it was sent before
	// this device joined. Body is empty.
	Locked bool
	// Uploads lists the files still being uploaded for a pending message.
	Uploads []UploadProgress
}

// Outgoing reports whether the message was sent by this user.
func (m *Message) Outgoing() bool { return m.State != MessageReceived }

// Conversation is a conversation as the list shows it.
type Conversation struct {
	ID          string
	Kind        string // direct or group
	Name        string
	Encrypted   bool  // end-to-end encrypted (docs/e2e.md)
	LastSeq     int64 // newest seq known
	Cursor      int64 // held with nothing missing below
	ReadSeq     int64 // this user's read watermark
	Unread      int64 // messages of others after ReadSeq
	Activity    time.Time
	LastMessage *Message
}

// Member is one member with their receipt watermarks.
type Member struct {
	UserID       string
	Role         string
	DeliveredSeq int64
	ReadSeq      int64
}

// RecipientState is one recipient's view of one message: delivered to
// their devices, read, or neither yet.
type RecipientState struct {
	UserID string
	State  MessageState // sent, delivered or read
}

// stateFor derives the state of an own message from the other members'
// watermarks: delivered once every other member's delivered_seq reached
// it, read once every read_seq did. A group nobody else is in stays sent.
func stateFor(seq int64, others []Member) MessageState {
	if seq == 0 || len(others) == 0 {
		return MessageSent
	}
	delivered, read := true, true
	for _, m := range others {
		delivered = delivered && max(m.DeliveredSeq, m.ReadSeq) >= seq
		read = read && m.ReadSeq >= seq
	}
	switch {
	case read:
		return MessageRead
	case delivered:
		return MessageDelivered
	}
	return MessageSent
}

// recipientState is stateFor for one member.
func recipientState(seq int64, m Member) MessageState {
	return stateFor(seq, []Member{m})
}
