package api

import (
	"encoding/json"
	"net/http"

	"github.com/courier-chat/courier"
)

// MountMailbox registers the device mailbox routes (docs/e2e.md). A put
// payload also goes out live as a mailbox event, which the WebSocket
// gateway hands only to the addressed device's sockets.
func (s *Server) MountMailbox(box courier.MailboxStore) {
	h := &mailboxHandlers{s: s, box: box}
	s.mux.Handle("POST /v1/mailbox", s.Authenticated(http.HandlerFunc(h.put)))
	s.mux.Handle("GET /v1/mailbox", s.Authenticated(http.HandlerFunc(h.list)))
	s.mux.Handle("POST /v1/mailbox/ack", s.Authenticated(http.HandlerFunc(h.ack)))
}

type mailboxHandlers struct {
	s   *Server
	box courier.MailboxStore
}

// MailboxPutRequest is the body of POST /v1/mailbox.
type MailboxPutRequest struct {
	Items []courier.MailboxPut `json:"items"`
}

// MailboxPutResponse names the stored payloads, in request order.
type MailboxPutResponse struct {
	Items []MailboxStored `json:"items"`
}

// MailboxStored is one stored payload's ID and recipient.
type MailboxStored struct {
	ID       int64  `json:"id"`
	DeviceID string `json:"device_id"`
}

func (h *mailboxHandlers) put(w http.ResponseWriter, r *http.Request) {
	var req MailboxPutRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	items, err := h.box.PutMailbox(r.Context(), courier.DeviceFromContext(r.Context()), req.Items)
	if err != nil {
		Error(w, r, err)
		return
	}
	resp := MailboxPutResponse{Items: make([]MailboxStored, len(items))}
	for i, it := range items {
		resp.Items[i] = MailboxStored{ID: it.ID, DeviceID: it.DeviceID}
		data, _ := json.Marshal(it)
		h.s.publish(r, []string{it.UserID}, courier.Event{Type: courier.EventMailbox, Data: data})
	}
	JSON(w, http.StatusCreated, resp)
}

// MailboxResponse lists waiting payloads.
type MailboxResponse struct {
	Items []*courier.MailboxItem `json:"items"`
}

// list answers the device's waiting payloads after ?after= (default 0),
// at most ?limit= (default and max 100).
func (h *mailboxHandlers) list(w http.ResponseWriter, r *http.Request) {
	after, err := queryInt(r, "after")
	if err != nil {
		Error(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		Error(w, r, err)
		return
	}
	if limit == 0 || limit > 100 {
		limit = 100
	}
	items, err := h.box.Mailbox(r.Context(), courier.DeviceFromContext(r.Context()).ID, after, int(limit))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, MailboxResponse{Items: items})
}

// MailboxAckRequest names processed payloads.
type MailboxAckRequest struct {
	IDs []int64 `json:"ids"`
}

func (h *mailboxHandlers) ack(w http.ResponseWriter, r *http.Request) {
	var req MailboxAckRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	n, err := h.box.AckMailbox(r.Context(), courier.DeviceFromContext(r.Context()).ID, req.IDs)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]int{"deleted": n})
}
