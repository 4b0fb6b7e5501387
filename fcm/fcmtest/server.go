// Package fcmtest is a fake Firebase Cloud Messaging for tests: one
// HTTP/2 TLS server on loopback with Google's OAuth 2.0 token endpoint
// (the JWT bearer grant of "Using OAuth 2.0 for Server to Server
// Applications") and FCM HTTP v1's projects.messages.send, checking
// requests as those documents describe and answering with the error
// format of "FCM error codes", refusals scriptable.
package fcmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Project is the fake's Firebase project ID.
const Project = "courier-test"

// Message is one send the fake accepted: the "message" object.
type Message struct {
	Token   string
	Data    map[string]string
	Android map[string]any
	APNs    map[string]any
	Raw     []byte
}

// Reply is a scripted FCM error: HTTP status, the Google status, the
// FcmError errorCode, and Retry-After seconds.
type Reply struct {
	Status     int
	APIStatus  string
	ErrorCode  string
	RetryAfter int
}

// Server is the fake with one service account.
type Server struct {
	*httptest.Server
	key   *rsa.PrivateKey
	email string

	mu       sync.Mutex
	devices  map[string]bool // registered tokens; false once unregistered
	tokens   map[string]time.Time
	grants   int
	script   []Reply
	accepted []Message
	refused  []Reply
}

// New starts a fake FCM for t.
func New(t testing.TB) *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{key: key, email: "courier@" + Project + ".iam.gserviceaccount.com",
		devices: map[string]bool{}, tokens: map[string]time.Time{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.send)
	s.Server = httptest.NewUnstartedServer(mux)
	s.Server.EnableHTTP2 = true
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// Credentials is a service-account key file for the fake, its token_uri
// pointing at the fake's token endpoint.
func (s *Server) Credentials() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(s.key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": Project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": s.email, "client_id": "1", "token_uri": s.URL + "/token",
	})
	return b
}

// CertPool trusts the fake's certificate.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

// AddDevice returns a new registration token the fake knows.
func (s *Server) AddDevice() string {
	b := make([]byte, 24)
	rand.Read(b)
	token := fmt.Sprintf("fcm-%x:APA91b", b)
	s.mu.Lock()
	s.devices[token] = true
	s.mu.Unlock()
	return token
}

// Unregister makes the token answer UNREGISTERED (the app was removed).
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.devices[token] = false
	s.mu.Unlock()
}

// RevokeTokens makes every access token issued so far invalid (401).
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]time.Time{}
	s.mu.Unlock()
}

// Script queues errors for the next sends, after authentication.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	s.script = append(s.script, replies...)
	s.mu.Unlock()
}

// Accepted returns the messages answered 200.
func (s *Server) Accepted() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Grants is how many access tokens the token endpoint issued.
func (s *Server) Grants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants
}

// apiError writes Google's error body: {"error": {code, message, status,
// details: [FcmError]}}.
func apiError(w http.ResponseWriter, r Reply, message string) {
	body := map[string]any{"code": r.Status, "message": message, "status": r.APIStatus}
	if r.ErrorCode != "" {
		body["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": r.ErrorCode}}
	}
	w.Header().Set("Content-Type", "application/json")
	if r.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(r.RetryAfter))
	}
	w.WriteHeader(r.Status)
	json.NewEncoder(w).Encode(map[string]any{"error": body})
}
