package api

import (
	"net"
	"net/http"

	"github.com/courier-chat/courier"
)

// PushAckRequest is the body of POST /v1/push/ack: a Notification Service
// Extension saying its device received (conversation, seq). The push
// token is the only credential: the extension has it from the app's
// shared container, and a stolen one can do no more than mark messages
// of that device's user delivered.
type PushAckRequest struct {
	PushToken      string `json:"push_token"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
}

// PushAckResponse is the user's watermarks after the ack.
type PushAckResponse struct {
	DeliveredSeq int64 `json:"delivered_seq"`
	Moved        bool  `json:"moved"`
}

// ack moves the delivered watermark, never the read one, and only up to
// the conversation's last seq (the store caps it). Both the address and
// the token are rate-limited before any lookup, so guessing tokens costs
// one request per token slot.
func (h *pushHandlers) ack(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !allow(w, r, h.perAddr, host) {
		return
	}
	var req PushAckRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	if req.PushToken == "" || len(req.PushToken) > courier.MaxPushTokenLen {
		Error(w, r, courier.Errorf(courier.EUNAUTHORIZED, "push_token is required"))
		return
	}
	if !allow(w, r, h.perToken, req.PushToken) {
		return
	}
	if !courier.ValidID(req.ConversationID) || req.Seq < 1 {
		Error(w, r, courier.Errorf(courier.EINVALID, "conversation_id and a positive seq are required"))
		return
	}
	d, err := h.store.DeviceForPushToken(r.Context(), req.PushToken)
	if err != nil {
		Error(w, r, err)
		return
	}
	rec, moved, err := h.receipts.UpdateReceipt(r.Context(), d.UserID, req.ConversationID, courier.ReceiptDelivered, req.Seq)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, PushAckResponse{DeliveredSeq: rec.DeliveredSeq, Moved: moved})
}

// allow takes a token for key from limit, or answers 429 with Retry-After.
func allow(w http.ResponseWriter, r *http.Request, limit Allower, key string) bool {
	if limit == nil {
		return true
	}
	if ok, wait := limit.Allow(key); !ok {
		Error(w, r, &courier.Error{Code: courier.ERATELIMIT, Message: "too many acknowledgements; retry later", RetryAfter: wait})
		return false
	}
	return true
}
