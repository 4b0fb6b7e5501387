package apnstest

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// check applies Apple's request rules in the order a reader of the docs
// meets them; it returns the refusal, or ok. s.mu is held.
func (s *Server) check(r *http.Request, body []byte) (Reply, bool) {
	bad := func(status int, reason string) (Reply, bool) { return Reply{Status: status, Reason: reason}, false }
	if r.ProtoMajor != 2 {
		// APNs speaks HTTP/2 only.
		return bad(http.StatusBadRequest, "HTTP/2 required")
	}
	if r.Method != http.MethodPost {
		return bad(http.StatusMethodNotAllowed, "MethodNotAllowed")
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if !ok {
		return bad(http.StatusNotFound, "BadPath")
	}
	if token == "" {
		return bad(http.StatusBadRequest, "MissingDeviceToken")
	}
	if reply, ok := s.checkAuth(r.RemoteAddr, r.Header.Get("authorization")); !ok {
		return reply, false
	}
	h := r.Header
	for name, values := range h {
		if strings.HasPrefix(strings.ToLower(name), "apns-") && len(values) > 1 {
			return bad(http.StatusBadRequest, "DuplicateHeaders")
		}
	}
	if id := h.Get("apns-id"); id != "" && !uuidShape.MatchString(id) {
		return bad(http.StatusBadRequest, "BadMessageId")
	}
	pushType := h.Get("apns-push-type")
	if !pushTypes[pushType] {
		return bad(http.StatusBadRequest, "InvalidPushType")
	}
	topic := h.Get("apns-topic")
	if topic == "" {
		// Required with token authentication.
		return bad(http.StatusBadRequest, "MissingTopic")
	}
	switch p := h.Get("apns-priority"); {
	case p != "" && p != "10" && p != "5" && p != "1":
		return bad(http.StatusBadRequest, "BadPriority")
	case pushType == "background" && p != "5":
		// Apple: background notifications must be sent with priority 5.
		return bad(http.StatusBadRequest, "BadPriority")
	}
	if e := h.Get("apns-expiration"); e != "" {
		if _, err := strconv.ParseInt(e, 10, 64); err != nil {
			return bad(http.StatusBadRequest, "BadExpirationDate")
		}
	}
	if c := h.Get("apns-collapse-id"); len(c) > 64 {
		return bad(http.StatusBadRequest, "BadCollapseId")
	}
	switch {
	case len(body) == 0:
		return bad(http.StatusBadRequest, "PayloadEmpty")
	case len(body) > 4096:
		return bad(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
	}
	var payload map[string]any
	if err := json.Unmarshal(body, &payload); err != nil || payload["aps"] == nil {
		return bad(http.StatusBadRequest, "BadPayload") // not one of Apple's words: a fake-only check
	}
	if !tokenShape.MatchString(token) {
		return bad(http.StatusBadRequest, "BadDeviceToken")
	}
	if s.gone[token] {
		return bad(http.StatusGone, "Unregistered")
	}
	registered, known := s.devices[token]
	if !known {
		return bad(http.StatusBadRequest, "BadDeviceToken")
	}
	if registered != topic {
		return bad(http.StatusBadRequest, "DeviceTokenNotForTopic")
	}
	return Reply{}, true
}

// checkAuth verifies "bearer <JWT>": ES256 over header.claims with the
// provider key, kid and iss matching, iat within the last hour; a token
// renewed on the same connection within 20 minutes of the last is
// TooManyProviderTokenUpdates. Apple counts renewals per connection
// ("Establishing a token-based connection to APNs": a new token too
// often on the same connection is an error; several provider servers may
// each hold their own token), so conn is the client's address.
func (s *Server) checkAuth(conn, auth string) (Reply, bool) {
	bad := func(status int, reason string) (Reply, bool) { return Reply{Status: status, Reason: reason}, false }
	jwt, ok := strings.CutPrefix(auth, "bearer ")
	if !ok || jwt == "" {
		return bad(http.StatusForbidden, "MissingProviderToken")
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return bad(http.StatusForbidden, "InvalidProviderToken")
	}
	var header struct{ Alg, Kid string }
	var claims struct {
		Iss string
		Iat int64
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil || header.Alg != "ES256" || len(sig) != 64 {
		return bad(http.StatusForbidden, "InvalidProviderToken")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(s.pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return bad(http.StatusForbidden, "InvalidProviderToken")
	}
	if header.Kid != s.KeyID || claims.Iss != s.TeamID {
		return bad(http.StatusForbidden, "InvalidProviderToken")
	}
	issued := time.Unix(claims.Iat, 0)
	if s.Now().Sub(issued) > time.Hour {
		return bad(http.StatusForbidden, "ExpiredProviderToken")
	}
	// An older token still in its hour is fine (requests in flight
	// during a renewal); a new one must be 20 minutes younger.
	if last := s.lastIssued[conn]; issued.After(last) {
		if !last.IsZero() && issued.Sub(last) < 20*time.Minute {
			return bad(http.StatusTooManyRequests, "TooManyProviderTokenUpdates")
		}
		s.lastIssued[conn] = issued
		s.tokenUpdates++
	}
	return Reply{}, true
}
