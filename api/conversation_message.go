package api

import (
	"net/http"
	"time"

	"github.com/courier-chat/courier"
)

// SendMessageRequest is the body of POST /v1/conversations/{id}/messages.
// Body is base64 in JSON, opaque to the server.
type SendMessageRequest struct {
	ClientID    string   `json:"client_id"`
	Body        []byte   `json:"body"`
	Attachments []string `json:"attachments,omitempty"`
	// Devices: the recipient devices of an encrypted message.
	Devices []string `json:"devices,omitempty"`
	// Kind and TargetSeq: a reaction, edit or delete of an earlier
	// message; ReplyTo: the seq a message quotes (docs/protocol.md).
	Kind      courier.MessageKind `json:"kind,omitempty"`
	TargetSeq int64               `json:"target_seq,omitempty"`
	ReplyTo   int64               `json:"reply_to,omitempty"`
}

// SentMessage answers a send: 201 when stored now, 200 with the original
// seq and ts for a resend of the same client_id from the same device.
type SentMessage struct {
	ConversationID string    `json:"conversation_id"`
	ClientID       string    `json:"client_id"`
	Seq            int64     `json:"seq"`
	CreatedAt      time.Time `json:"ts"`
}

func (h *messagingHandlers) send(w http.ResponseWriter, r *http.Request) {
	var req SendMessageRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	m, created, err := h.msgs.Send(r.Context(), me, courier.SendRequest{ConversationID: r.PathValue("id"),
		ClientID: req.ClientID, Body: req.Body, Attachments: req.Attachments, Devices: req.Devices,
		Kind: req.Kind, Target: req.TargetSeq, ReplyTo: req.ReplyTo})
	if err != nil {
		Error(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	JSON(w, status, SentMessage{ConversationID: m.ConversationID, ClientID: m.ClientID, Seq: m.Seq, CreatedAt: m.CreatedAt})
}

// MessageList is the body of GET /v1/conversations/{id}/messages.
type MessageList struct {
	Messages []*courier.Message `json:"messages"`
}

func (h *messagingHandlers) history(w http.ResponseWriter, r *http.Request) {
	var after, before, limit int64
	var err error
	for name, p := range map[string]*int64{"after": &after, "before": &before, "limit": &limit} {
		if *p, err = queryInt(r, name); err != nil {
			Error(w, r, err)
			return
		}
	}
	me := courier.DeviceFromContext(r.Context())
	msgs, err := h.msgs.Messages(r.Context(), me.UserID, r.PathValue("id"), after, before, int(limit))
	if err != nil {
		Error(w, r, err)
		return
	}
	if msgs == nil {
		msgs = []*courier.Message{}
	}
	JSON(w, http.StatusOK, MessageList{Messages: msgs})
}

// ReceiptRequest is the body of POST /v1/conversations/{id}/receipts.
type ReceiptRequest struct {
	Kind courier.ReceiptKind `json:"kind"`
	Seq  int64               `json:"seq"`
}

// ReceiptResponse is the member's watermarks after the update; Moved is
// false when the receipt changed nothing (an old or repeated one).
type ReceiptResponse struct {
	courier.Receipt
	Moved bool `json:"moved"`
}

func (h *messagingHandlers) receipt(w http.ResponseWriter, r *http.Request) {
	var req ReceiptRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	rec, moved, err := h.msgs.UpdateReceipt(r.Context(), me.UserID, r.PathValue("id"), req.Kind, req.Seq)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, ReceiptResponse{Receipt: rec, Moved: moved})
}
