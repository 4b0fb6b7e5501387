package api

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"time"

	"github.com/courier-chat/courier"
)

// Limiter is the slice of a keyed token-bucket rate limiter the key routes
// call (messaging.Limiter is one): Allow takes a token for key, or says
// how long until one is back.
type Limiter interface {
	Allow(key string) (ok bool, retryAfter time.Duration)
}

// KeyLimits bound key fetches, so that nobody drains a device's one-time
// stock: per requesting user and target user, and per target user from
// everyone. Nil limiters allow everything.
type KeyLimits struct {
	PerPair   Limiter
	PerTarget Limiter
}

// MountKeys registers the key directory routes (docs/e2e.md).
func (s *Server) MountKeys(keys courier.KeyStore, limits KeyLimits) {
	s.keys = keys
	h := &keyHandlers{s: s, keys: keys, limits: limits}
	for pattern, f := range map[string]http.HandlerFunc{
		"PUT /v1/keys":                      h.put,
		"GET /v1/keys":                      h.counts,
		"POST /v1/keys/check":               h.check,
		"GET /v1/users/{userID}/keys":       h.claim,
		"GET /v1/users/{userID}/identities": h.identities,
	} {
		s.mux.Handle(pattern, s.Authenticated(f))
	}
}

type keyHandlers struct {
	s      *Server
	keys   courier.KeyStore
	limits KeyLimits
}

// KeyCountsResponse answers an upload and GET /v1/keys.
type KeyCountsResponse struct {
	Counts []courier.KeyCount `json:"counts"`
}

func (h *keyHandlers) put(w http.ResponseWriter, r *http.Request) {
	var up courier.KeyUpload
	if err := DecodeJSON(w, r, &up); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	counts, newIdentity, err := h.keys.PutKeys(r.Context(), me, up)
	if err != nil {
		Error(w, r, err)
		return
	}
	if newIdentity {
		// The device is a recipient from now on: senders must seal their
		// chains to it too, and peers may show a safety-number change.
		h.s.publishDevicesChanged(r, me.UserID)
	}
	JSON(w, http.StatusOK, KeyCountsResponse{Counts: counts})
}

func (h *keyHandlers) counts(w http.ResponseWriter, r *http.Request) {
	counts, err := h.keys.KeyCounts(r.Context(), courier.DeviceFromContext(r.Context()).ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, KeyCountsResponse{Counts: counts})
}

// KeyCheckRequest carries the device's courier.KeyDigest of its own keys.
type KeyCheckRequest struct {
	Digest []byte `json:"digest"`
}

// check answers 200 when the directory holds what the device thinks it
// uploaded, else 409: the device uploads its keys again with replace.
func (h *keyHandlers) check(w http.ResponseWriter, r *http.Request) {
	var req KeyCheckRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	d, err := h.keys.KeyDigest(r.Context(), courier.DeviceFromContext(r.Context()).ID)
	if err != nil {
		Error(w, r, err)
		return
	}
	if subtle.ConstantTimeCompare(d[:], req.Digest) != 1 {
		Error(w, r, courier.Errorf(courier.ECONFLICT, "the directory holds other keys for this device; upload them again"))
		return
	}
	JSON(w, http.StatusOK, map[string]bool{"match": true})
}

// DeviceKeysResponse answers a key fetch.
type DeviceKeysResponse struct {
	Devices []courier.DeviceKeys `json:"devices"`
}

// claim serves a user's bundles (one device's with ?device_id=), each
// with a one-time key claimed for the requester: a GET that changes the
// directory, as Signal's, because the fetch is the claim.
func (h *keyHandlers) claim(w http.ResponseWriter, r *http.Request) {
	target, deviceID := r.PathValue("userID"), r.URL.Query().Get("device_id")
	kem := courier.KEMXWing
	if k := r.URL.Query().Get("kem"); k != "" {
		if err := kem.UnmarshalText([]byte(k)); err != nil {
			Error(w, r, err)
			return
		}
	}
	if !courier.ValidID(target) || (deviceID != "" && !courier.ValidID(deviceID)) {
		Error(w, r, courier.Errorf(courier.ENOTFOUND, "no such user or device"))
		return
	}
	me := courier.DeviceFromContext(r.Context())
	if err := h.allow(me.UserID, target); err != nil {
		Error(w, r, err)
		return
	}
	bundles, stock, err := h.keys.ClaimKeys(r.Context(), target, deviceID, kem)
	if err != nil {
		Error(w, r, err)
		return
	}
	for _, st := range stock {
		if st.OneTime < courier.LowPrekeyThreshold || st.LastResortUsed {
			data, _ := json.Marshal(map[string]any{"device_id": st.DeviceID, "kem": st.KEM,
				"one_time": st.OneTime, "last_resort_used": st.LastResortUsed})
			h.s.publish(r, []string{target}, courier.Event{Type: courier.EventKeysLow, Data: data})
		}
	}
	JSON(w, http.StatusOK, DeviceKeysResponse{Devices: bundles})
}

// identities serves the identity keys of a user's recipient devices,
// claiming nothing (so it is not rate-limited as claims are): what a
// client computes a safety number over, and checks again when told
// devices.changed.
func (h *keyHandlers) identities(w http.ResponseWriter, r *http.Request) {
	target := r.PathValue("userID")
	if !courier.ValidID(target) {
		Error(w, r, courier.Errorf(courier.ENOTFOUND, "no such user"))
		return
	}
	devs, err := h.keys.Identities(r.Context(), target)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, DeviceKeysResponse{Devices: devs})
}

// allow takes a token from both buckets; fetching one's own other devices'
// keys counts like anyone else's.
func (h *keyHandlers) allow(requester, target string) error {
	for _, l := range []struct {
		lim Limiter
		key string
	}{{h.limits.PerPair, requester + ":" + target}, {h.limits.PerTarget, target}} {
		if l.lim == nil {
			continue
		}
		if ok, wait := l.lim.Allow(l.key); !ok {
			return &courier.Error{Code: courier.ERATELIMIT, Message: "too many key fetches for this user; retry later", RetryAfter: wait}
		}
	}
	return nil
}

// publishDevicesChanged tells userID and everyone sharing a conversation
// with them that their recipient devices changed.
func (s *Server) publishDevicesChanged(r *http.Request, userID string) {
	if s.keys == nil || s.events == nil {
		return
	}
	peers, err := s.keys.Peers(r.Context(), userID)
	if err != nil {
		courier.Logger(r.Context()).Error("devices changed, but peers were not found", "err", err)
		return
	}
	data, _ := json.Marshal(map[string]string{"user_id": userID})
	s.publish(r, peers, courier.Event{Type: courier.EventDevicesChanged, Data: data})
}

// publish sends an event best effort: the request's own answer stands
// whether or not online devices hear of it (they resync keys later).
func (s *Server) publish(r *http.Request, userIDs []string, e courier.Event) {
	if s.events == nil {
		return
	}
	if err := s.events.Publish(r.Context(), userIDs, e); err != nil {
		courier.Logger(r.Context()).Error("event not published", "type", e.Type, "err", err)
	}
}
