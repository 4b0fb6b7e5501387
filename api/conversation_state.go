package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/courier-chat/courier"
)

// MountConversationState registers a user's own settings for their
// conversations and their blocks. Each change is told to all the user's
// devices (conversation.state, blocks.changed) through the event publisher
// (SetEventPublisher), so every device shows the same.
func (s *Server) MountConversationState(states courier.ConversationStateService, blocks courier.BlockService) {
	h := &stateHandlers{s: s, states: states, blocks: blocks}
	for pattern, f := range map[string]http.HandlerFunc{
		"PATCH /v1/conversations/{id}/state": h.setState,
		"GET /v1/blocks":                     h.listBlocks,
		"POST /v1/blocks/{userID}":           h.block,
		"DELETE /v1/blocks/{userID}":         h.unblock,
	} {
		s.mux.Handle(pattern, s.Authenticated(f))
	}
}

type stateHandlers struct {
	s      *Server
	states courier.ConversationStateService
	blocks courier.BlockService
}

// ConversationStateRequest is the body of PATCH
// /v1/conversations/{id}/state: fields left out keep their value.
type ConversationStateRequest = courier.ConversationStatePatch

// setState answers with the state afterwards, the data of the
// conversation.state event the user's devices get.
func (h *stateHandlers) setState(w http.ResponseWriter, r *http.Request) {
	var req ConversationStateRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	st, err := h.states.SetConversationState(r.Context(), me.UserID, r.PathValue("id"), req)
	if err != nil {
		Error(w, r, err)
		return
	}
	data, _ := json.Marshal(st)
	h.s.publish(r, []string{me.UserID}, courier.Event{Type: courier.EventConversationState, Data: data})
	JSON(w, http.StatusOK, st)
}

// BlockList is the body of GET /v1/blocks.
type BlockList struct {
	Blocks []courier.Block `json:"blocks"`
}

func (h *stateHandlers) listBlocks(w http.ResponseWriter, r *http.Request) {
	me := courier.DeviceFromContext(r.Context())
	list, err := h.blocks.Blocks(r.Context(), me.UserID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, BlockList{Blocks: list})
}

func (h *stateHandlers) block(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, true, h.blocks.Block)
}

func (h *stateHandlers) unblock(w http.ResponseWriter, r *http.Request) {
	h.change(w, r, false, h.blocks.Unblock)
}

// change blocks or unblocks, answers 204 and tells the user's devices.
func (h *stateHandlers) change(w http.ResponseWriter, r *http.Request, blocked bool, f func(ctx context.Context, userID, other string) error) {
	me := courier.DeviceFromContext(r.Context())
	other := r.PathValue("userID")
	if err := f(r.Context(), me.UserID, other); err != nil {
		Error(w, r, err)
		return
	}
	data, _ := json.Marshal(courier.BlocksChanged{UserID: other, Blocked: blocked})
	h.s.publish(r, []string{me.UserID}, courier.Event{Type: courier.EventBlocksChanged, Data: data})
	w.WriteHeader(http.StatusNoContent)
}
