package fcmtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// tokenLifetime is what Google's token endpoint grants: an hour.
const tokenLifetime = time.Hour

// token is the JWT bearer grant (RFC 7523): the assertion is an RS256 JWT
// signed with the service account's key, iss its email, scope the
// requested scopes, aud the token endpoint, exp at most an hour after iat.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	invalid := func(desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		invalid("grant_type must be urn:ietf:params:oauth:grant-type:jwt-bearer")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		invalid("assertion is not a JWT")
		return
	}
	var header struct{ Alg string }
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if json.Unmarshal(hb, &header) != nil || json.Unmarshal(cb, &claims) != nil || header.Alg != "RS256" {
		invalid("assertion must be an RS256 JWT")
		return
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		invalid("Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != s.email:
		invalid("iss is not the service account")
	case claims.Aud != s.URL+"/token":
		invalid("aud must be the token endpoint")
	case !slices.Contains(strings.Fields(claims.Scope), "https://www.googleapis.com/auth/firebase.messaging"):
		invalid("scope lacks firebase.messaging")
	case claims.Exp-claims.Iat > 3600 || claims.Exp < now || claims.Iat > now+60:
		invalid("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	default:
		b := make([]byte, 24)
		rand.Read(b)
		access := fmt.Sprintf("ya29.%x", b)
		s.mu.Lock()
		s.tokens[access] = time.Now().Add(tokenLifetime)
		s.grants++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": access, "expires_in": int(tokenLifetime.Seconds()) - 1, "token_type": "Bearer"})
	}
}

var ttlShape = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)

// send is projects.messages.send: a bearer access token, a body
// {"message": {...}} aimed at exactly one of token, topic or condition,
// data values all strings, Android options in their documented forms.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	refuse := func(reply Reply, message string) {
		s.refused = append(s.refused, reply)
		apiError(w, reply, message)
	}
	if r.ProtoMajor != 2 {
		refuse(Reply{Status: 400, APIStatus: "INVALID_ARGUMENT"}, "fake: HTTP/2 expected")
		return
	}
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, known := s.tokens[access]; !ok || !known || time.Now().After(exp) {
		refuse(Reply{Status: 401, APIStatus: "UNAUTHENTICATED"}, "Request had invalid authentication credentials.")
		return
	}
	if r.PathValue("project") != Project {
		refuse(Reply{Status: 403, APIStatus: "PERMISSION_DENIED", ErrorCode: "SENDER_ID_MISMATCH"}, "wrong project")
		return
	}
	if len(s.script) > 0 {
		reply := s.script[0]
		s.script = s.script[1:]
		refuse(reply, "scripted")
		return
	}
	var body struct {
		Message map[string]json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(raw, &body); err != nil || body.Message == nil {
		refuse(Reply{Status: 400, APIStatus: "INVALID_ARGUMENT", ErrorCode: "INVALID_ARGUMENT"}, "Invalid JSON payload received.")
		return
	}
	m := Message{Raw: raw}
	targets := 0
	for _, k := range []string{"token", "topic", "condition"} {
		if _, ok := body.Message[k]; ok {
			targets++
		}
	}
	json.Unmarshal(body.Message["token"], &m.Token)
	errData := json.Unmarshal(body.Message["data"], &m.Data) // a non-string value fails here
	json.Unmarshal(body.Message["android"], &m.Android)
	json.Unmarshal(body.Message["apns"], &m.APNs)
	bad := func(msg string) {
		refuse(Reply{Status: 400, APIStatus: "INVALID_ARGUMENT", ErrorCode: "INVALID_ARGUMENT"}, msg)
	}
	dataSize := 0
	for k, v := range m.Data {
		dataSize += len(k) + len(v)
	}
	switch p, _ := m.Android["priority"].(string); {
	case targets != 1:
		bad("exactly one of token, topic, condition")
	case body.Message["data"] != nil && errData != nil:
		bad("Invalid value at 'message.data': values must be strings")
	case dataSize > 4096:
		bad("Message is too big")
	case m.Android["ttl"] != nil && !ttlShape.MatchString(fmt.Sprint(m.Android["ttl"])):
		bad("Invalid value at 'message.android.ttl'")
	case p != "" && p != "NORMAL" && p != "HIGH":
		bad("Invalid value at 'message.android.priority'")
	default:
		switch live, known := s.devices[m.Token]; {
		case !known:
			refuse(Reply{Status: 400, APIStatus: "INVALID_ARGUMENT", ErrorCode: "INVALID_ARGUMENT"},
				"The registration token is not a valid FCM registration token")
		case !live:
			refuse(Reply{Status: 404, APIStatus: "NOT_FOUND", ErrorCode: "UNREGISTERED"}, "Requested entity was not found.")
		default:
			s.accepted = append(s.accepted, m)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"name": fmt.Sprintf("projects/%s/messages/0:%d", Project, time.Now().UnixNano())})
		}
	}
}
