// Package apnstest is a fake APNs for tests: an HTTP/2 server over TLS on
// loopback that checks requests as Apple's "Sending notification requests
// to APNs" and "Establishing a token-based connection to APNs" describe,
// answers as "Handling notification responses from APNs" lists, and can
// be told to refuse (410, 429, 503 …) on cue.
package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Notification is one request the fake accepted.
type Notification struct {
	Token   string
	Header  http.Header
	Payload map[string]any
	Raw     []byte
	At      time.Time
}

// Reply is a scripted answer: status, reason, and Retry-After seconds.
type Reply struct {
	Status     int
	Reason     string
	RetryAfter int
}

// Server is a fake APNs with one provider key (KeyID, TeamID) and the
// devices it knows.
type Server struct {
	*httptest.Server
	KeyID, TeamID string
	KeyPEM        []byte // the .p8 the provider signs with
	pub           *ecdsa.PublicKey

	// Now is the fake's clock, for token ages. Default time.Now.
	Now func() time.Time

	mu           sync.Mutex
	devices      map[string]string // token → topic
	gone         map[string]bool   // tokens answered 410 Unregistered
	script       []Reply
	accepted     []Notification
	refused      []Reply
	lastIssued   map[string]time.Time // per connection: iat of the newest token seen on it
	tokenUpdates int                  // how often the provider changed its token
	conns        int
}

var (
	tokenShape = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	uuidShape  = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Documented apns-push-type values.
var pushTypes = map[string]bool{"alert": true, "background": true, "location": true, "voip": true,
	"complication": true, "fileprovider": true, "mdm": true, "liveactivity": true, "pushtotalk": true, "widgets": true}

// New starts a fake APNs for t with a fresh P-256 provider key.
func New(t testing.TB) *Server {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	s := &Server{KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ", KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pub: &key.PublicKey, Now: time.Now, devices: map[string]string{}, gone: map[string]bool{}, lastIssued: map[string]time.Time{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.EnableHTTP2 = true
	s.Server.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.conns++
		case http.StateClosed, http.StateHijacked:
			delete(s.lastIssued, c.RemoteAddr().String())
		}
	}
	s.Server.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// CertPool trusts the fake's certificate.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

// AddDevice makes a new device token for topic and returns it.
func (s *Server) AddDevice(topic string) string {
	b := make([]byte, 32)
	rand.Read(b)
	token := fmt.Sprintf("%x", b)
	s.mu.Lock()
	s.devices[token] = topic
	s.mu.Unlock()
	return token
}

// Unregister makes the token answer 410 Unregistered (the app was removed).
func (s *Server) Unregister(token string) {
	s.mu.Lock()
	s.gone[token] = true
	s.mu.Unlock()
}

// Script queues answers for the next requests, before any check.
func (s *Server) Script(replies ...Reply) {
	s.mu.Lock()
	s.script = append(s.script, replies...)
	s.mu.Unlock()
}

// Accepted returns the notifications answered 200, in order.
func (s *Server) Accepted() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.accepted...)
}

// Refused returns the refusals sent, in order.
func (s *Server) Refused() []Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reply(nil), s.refused...)
}

// Conns is how many TCP connections clients opened.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// TokenUpdates is how many times the provider's token changed.
func (s *Server) TokenUpdates() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenUpdates
}

func (s *Server) refuse(w http.ResponseWriter, r Reply) {
	s.refused = append(s.refused, r)
	w.Header().Set("Content-Type", "application/json")
	if r.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(r.RetryAfter))
	}
	w.WriteHeader(r.Status)
	body := map[string]any{"reason": r.Reason}
	if r.Status == http.StatusGone {
		// Apple: the time at which APNs confirmed the token was no
		// longer valid, in milliseconds.
		body["timestamp"] = s.Now().UnixMilli()
	}
	json.NewEncoder(w).Encode(body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.Header.Get("apns-id")
	if id == "" {
		b := make([]byte, 16)
		rand.Read(b)
		id = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	}
	w.Header().Set("apns-id", id)
	if len(s.script) > 0 {
		reply := s.script[0]
		s.script = s.script[1:]
		s.refuse(w, reply)
		return
	}
	if reply, ok := s.check(r, body); !ok {
		s.refuse(w, reply)
		return
	}
	var payload map[string]any
	json.Unmarshal(body, &payload)
	s.accepted = append(s.accepted, Notification{Token: strings.TrimPrefix(r.URL.Path, "/3/device/"),
		Header: r.Header.Clone(), Payload: payload, Raw: body, At: s.Now()})
	w.WriteHeader(http.StatusOK)
}
