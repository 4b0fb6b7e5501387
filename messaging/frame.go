package messaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/courier-chat/courier"
)

// Frame limits. A frame carries at most a 64 KiB body, which base64 makes
// 87,384 bytes, plus up to 32 attachment IDs and the envelope: MaxFrame
// leaves room for all of it. Frames over MaxFrame but under MaxWireFrame
// are read to the end, discarded and answered with a too_large error; only
// a frame over MaxWireFrame closes the connection (1009).
const (
	MaxFrame     = 96 << 10
	MaxWireFrame = 1 << 20
	maxIDLen     = 64
)

// Frame is what clients send: {"type": "...", "id": "...", "data": {...}}.
// ID is the client's request ID, echoed on the answer.
type Frame struct {
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// ServerFrame is what the server sends.
type ServerFrame struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Data any    `json:"data,omitempty"`
}

// SendData is the data of a send frame. Body is base64 in JSON.
type SendData struct {
	ConversationID string   `json:"conversation_id"`
	ClientID       string   `json:"client_id"`
	Body           []byte   `json:"body"`
	Attachments    []string `json:"attachments,omitempty"`
	// Devices: the recipient devices of an encrypted message.
	Devices []string `json:"devices,omitempty"`
	// Kind and TargetSeq: a reaction, edit or delete of an earlier
	// message; ReplyTo: the seq a message quotes (docs/protocol.md).
	Kind      courier.MessageKind `json:"kind,omitempty"`
	TargetSeq int64               `json:"target_seq,omitempty"`
	ReplyTo   int64               `json:"reply_to,omitempty"`
}

// SyncData carries the device's cursors: conversation ID → the highest seq
// it holds. Conversations it has no cursor for sync from the start.
type SyncData struct {
	Cursors map[string]int64 `json:"cursors"`
	// Limit caps the messages sent per conversation in this sync (newest
	// kept out; sync again with the new cursor). Default and maximum 1000.
	Limit int `json:"limit,omitempty"`
}

// ReceiptData moves the sender's delivered or read watermark.
type ReceiptData struct {
	ConversationID string              `json:"conversation_id"`
	Kind           courier.ReceiptKind `json:"kind"`
	Seq            int64               `json:"seq"`
}

// TypingData starts or stops typing in a conversation.
type TypingData struct {
	ConversationID string `json:"conversation_id"`
	State          string `json:"state"` // start | stop
}

// PresenceSubscribeData asks for the presence of the other member of each
// direct conversation, now and on every change while the socket lives.
type PresenceSubscribeData struct {
	ConversationIDs []string `json:"conversation_ids"`
}

// SentData answers a send, after commit.
type SentData struct {
	ConversationID string    `json:"conversation_id"`
	ClientID       string    `json:"client_id"`
	Seq            int64     `json:"seq"`
	TS             time.Time `json:"ts"`
	Duplicate      bool      `json:"duplicate,omitempty"`
}

// SyncedData ends a sync: every conversation's cursor after it.
type SyncedData struct {
	Cursors map[string]int64 `json:"cursors"`
	// More lists conversations cut at the limit: sync again. Always
	// present, [] when the sync is complete (docs/protocol.md).
	More []string `json:"more"`
}

// TypingEvent is relayed to the other members' online devices.
type TypingEvent struct {
	ConversationID string `json:"conversation_id"`
	UserID         string `json:"user_id"`
	State          string `json:"state"`
	ExpiresInMS    int64  `json:"expires_in_ms,omitempty"`
}

// PresenceEvent is a contact's online state.
type PresenceEvent struct {
	UserID   string     `json:"user_id"`
	Online   bool       `json:"online"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// ErrorData is the data of an error frame.
type ErrorData struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	// The recipient devices of a refused encrypted send.
	*courier.DeviceMismatch
}

// DecodeFrame parses a client frame's envelope. Errors are EINVALID or
// ETOOLARGE with a message for the client.
func DecodeFrame(b []byte) (*Frame, error) {
	if len(b) > MaxFrame {
		return nil, courier.Errorf(courier.ETOOLARGE, "frame over %d bytes", MaxFrame)
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return &Frame{ID: peekID(b)}, courier.Errorf(courier.EINVALID, "malformed frame: %v", err)
	}
	if len(f.ID) > maxIDLen {
		return &Frame{}, courier.Errorf(courier.EINVALID, "id over %d characters", maxIDLen)
	}
	if f.Type == "" {
		return &f, courier.Errorf(courier.EINVALID, "frame has no type")
	}
	return &f, nil
}

// DecodeData parses a frame's data into v, strictly.
func (f *Frame) DecodeData(v any) error {
	if len(f.Data) == 0 || bytes.Equal(f.Data, []byte("null")) {
		return courier.Errorf(courier.EINVALID, "%s frame needs data", f.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(f.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return courier.Errorf(courier.EINVALID, "invalid %s data: %v", f.Type, err)
	}
	return nil
}

// peekID finds a top-level "id" string in a frame that did not parse or
// was too large, so the error can still name the request. It reads tokens
// until the input ends or breaks.
func peekID(b []byte) string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "id" {
			if v, err := dec.Token(); err == nil {
				if s, ok := v.(string); ok && len(s) <= maxIDLen {
					return s
				}
			}
			return ""
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// errorFrame turns err into an error frame answering request id.
func errorFrame(id string, err error) ServerFrame {
	d := ErrorData{Code: courier.ErrorCode(err), Message: courier.ErrorMessage(err), DeviceMismatch: courier.ErrorDevices(err)}
	var e *courier.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		d.RetryAfterMS = e.RetryAfter.Milliseconds()
		if d.RetryAfterMS == 0 {
			d.RetryAfterMS = 1
		}
	}
	return ServerFrame{Type: courier.FrameError, ID: id, Data: d}
}
