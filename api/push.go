package api

import (
	"context"
	"net/http"
	"time"

	"github.com/courier-chat/courier"
)

// ReceiptUpdater moves a member's watermarks and tells the other members
// (messaging.Service): an acknowledged push shows ✓✓ to the sender.
type ReceiptUpdater interface {
	UpdateReceipt(ctx context.Context, userID, conversationID string, kind courier.ReceiptKind, seq int64) (courier.Receipt, bool, error)
}

// Allower is a rate limit keyed by a string (messaging.Limiter).
type Allower interface {
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// MountPush registers push registration, conversation mute, and the
// delivery acknowledgement a Notification Service Extension sends.
// Acknowledgements are rate-limited per push token (perToken) and, since
// they need no bearer token, per client address (perAddr) before any
// lookup; either may be nil.
func (s *Server) MountPush(store courier.PushStore, receipts ReceiptUpdater, perToken, perAddr Allower) {
	h := &pushHandlers{store: store, receipts: receipts, perToken: perToken, perAddr: perAddr}
	s.mux.Handle("PUT /v1/push", s.Authenticated(http.HandlerFunc(h.register)))
	s.mux.Handle("GET /v1/push", s.Authenticated(http.HandlerFunc(h.get)))
	s.mux.Handle("DELETE /v1/push", s.Authenticated(http.HandlerFunc(h.unregister)))
	s.mux.Handle("PUT /v1/conversations/{id}/mute", s.Authenticated(http.HandlerFunc(h.mute)))
	// No bearer token: the extension proves itself with its push token.
	s.mux.HandleFunc("POST /v1/push/ack", h.ack)
}

type pushHandlers struct {
	store    courier.PushStore
	receipts ReceiptUpdater
	perToken Allower
	perAddr  Allower
}

func (h *pushHandlers) register(w http.ResponseWriter, r *http.Request) {
	// The body is a courier.PushRegistration (public_key base64); the
	// device is the caller, whatever the body says.
	reg := &courier.PushRegistration{}
	if err := DecodeJSON(w, r, reg); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	reg.DeviceID, reg.UserID = me.ID, me.UserID
	if err := h.store.RegisterPush(r.Context(), reg); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, reg)
}

func (h *pushHandlers) get(w http.ResponseWriter, r *http.Request) {
	reg, err := h.store.PushRegistration(r.Context(), courier.DeviceFromContext(r.Context()).ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, reg)
}

func (h *pushHandlers) unregister(w http.ResponseWriter, r *http.Request) {
	if err := h.store.UnregisterPush(r.Context(), courier.DeviceFromContext(r.Context()).ID); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// MuteRequest is the body of PUT /v1/conversations/{id}/mute: muted with
// no until mutes for good; muted false unmutes.
type MuteRequest struct {
	Muted bool       `json:"muted"`
	Until *time.Time `json:"until,omitempty"`
}

// MuteResponse says until when the conversation is muted (absent: not).
type MuteResponse struct {
	ConversationID string     `json:"conversation_id"`
	MutedUntil     *time.Time `json:"muted_until,omitempty"`
}

func (h *pushHandlers) mute(w http.ResponseWriter, r *http.Request) {
	var req MuteRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	var until time.Time
	switch {
	case req.Muted && req.Until == nil:
		until = courier.MuteForever
	case req.Muted && !req.Until.After(time.Now()):
		Error(w, r, courier.Errorf(courier.EINVALID, "until must be in the future"))
		return
	case req.Muted:
		until = req.Until.UTC()
	}
	me := courier.DeviceFromContext(r.Context())
	if err := h.store.MuteConversation(r.Context(), me.UserID, r.PathValue("id"), until); err != nil {
		Error(w, r, err)
		return
	}
	resp := MuteResponse{ConversationID: r.PathValue("id")}
	if !until.IsZero() {
		resp.MutedUntil = &until
	}
	JSON(w, http.StatusOK, resp)
}
