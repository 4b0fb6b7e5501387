package api

import (
	"net/http"
	"strconv"

	"github.com/courier-chat/courier"
)

// MountMessaging registers the conversation and history routes. They
// depend only on the root interfaces, so cmd/courier can pass a store that
// also fans messages and receipts out to devices. Non-members get 404 for
// everything about a conversation: they learn nothing of it.
func (s *Server) MountMessaging(convs courier.ConversationService, msgs courier.MessageStore) {
	h := &messagingHandlers{convs: convs, msgs: msgs}
	for pattern, f := range map[string]http.HandlerFunc{
		"POST /v1/conversations":                         h.create,
		"GET /v1/conversations":                          h.list,
		"GET /v1/conversations/{id}":                     h.get,
		"POST /v1/conversations/{id}/members":            h.addMembers,
		"DELETE /v1/conversations/{id}/members/{userID}": h.removeMember,
		"POST /v1/conversations/{id}/messages":           h.send,
		"GET /v1/conversations/{id}/messages":            h.history,
		"POST /v1/conversations/{id}/receipts":           h.receipt,
	} {
		s.mux.Handle(pattern, s.Authenticated(f))
	}
}

type messagingHandlers struct {
	convs courier.ConversationService
	msgs  courier.MessageStore
}

// CreateConversationRequest is the body of POST /v1/conversations.
type CreateConversationRequest = courier.NewConversation

// create answers 201 for a new group and 200 for a direct conversation,
// which is created the first time and returned as is after that.
func (h *messagingHandlers) create(w http.ResponseWriter, r *http.Request) {
	var req CreateConversationRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	c, err := h.convs.Create(r.Context(), me.UserID, req)
	if err != nil {
		Error(w, r, err)
		return
	}
	status := http.StatusOK
	if req.Kind == courier.ConversationGroup {
		status = http.StatusCreated
	}
	JSON(w, status, c)
}

// ConversationList is the body of GET /v1/conversations. NextCursor is ""
// on the last page.
type ConversationList struct {
	Conversations []*courier.ConversationView `json:"conversations"`
	NextCursor    string                      `json:"next_cursor"`
}

func (h *messagingHandlers) list(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit")
	if err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	views, next, err := h.convs.Conversations(r.Context(), me.UserID, r.URL.Query().Get("cursor"), int(limit))
	if err != nil {
		Error(w, r, err)
		return
	}
	if views == nil {
		views = []*courier.ConversationView{}
	}
	JSON(w, http.StatusOK, ConversationList{Conversations: views, NextCursor: next})
}

func (h *messagingHandlers) get(w http.ResponseWriter, r *http.Request) {
	me := courier.DeviceFromContext(r.Context())
	c, err := h.convs.Conversation(r.Context(), me.UserID, r.PathValue("id"))
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, c)
}

// addMembers answers with the conversation as it is afterwards.
func (h *messagingHandlers) addMembers(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Members []string `json:"members"`
	}
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	if err := h.convs.AddMembers(r.Context(), me.UserID, r.PathValue("id"), req.Members); err != nil {
		Error(w, r, err)
		return
	}
	h.get(w, r)
}

func (h *messagingHandlers) removeMember(w http.ResponseWriter, r *http.Request) {
	me := courier.DeviceFromContext(r.Context())
	if err := h.convs.RemoveMember(r.Context(), me.UserID, r.PathValue("id"), r.PathValue("userID")); err != nil {
		Error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// queryInt parses an optional integer query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, courier.Errorf(courier.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}
