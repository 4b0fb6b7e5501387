package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Apple's window for provider tokens ("Establishing a token-based
// connection to APNs"): a token is refused once its iat is more than an
// hour old, and making new ones more often than every 20 minutes is
// answered 429 TooManyProviderTokenUpdates. Courier makes one every 40
// minutes, in the middle of the window, and on 403 ExpiredProviderToken.
const (
	TokenRefresh     = 40 * time.Minute
	TokenMinLifetime = 20 * time.Minute
	TokenMaxAge      = time.Hour
)

// ParseKey reads an APNs auth key: the .p8 file Apple hands out, a PEM
// "PRIVATE KEY" block holding a PKCS #8 P-256 key.
func ParseKey(p8 []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(p8)
	if block == nil {
		return nil, errors.New("apns: auth key is not PEM (want the .p8 file)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("apns: auth key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("apns: auth key is not a P-256 key")
	}
	return ec, nil
}

// tokenSigner makes and caches the provider token: one JWT shared by
// every request until it is TokenRefresh old.
type tokenSigner struct {
	key    *ecdsa.PrivateKey
	keyID  string
	teamID string
	now    func() time.Time

	mu     sync.Mutex
	bearer string
	issued time.Time
}

// token returns the current token, making a new one when it is due.
func (s *tokenSigner) token() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bearer == "" || s.now().Sub(s.issued) >= TokenRefresh {
		return s.signLocked()
	}
	return s.bearer, nil
}

// expired is APNs' word that used (a token it refused) is too old: make a
// new one, unless another request already did since.
func (s *tokenSigner) expired(used string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bearer != used {
		return s.bearer, nil
	}
	return s.signLocked()
}

// signLocked signs {"alg":"ES256","kid":keyID} . {"iss":teamID,"iat":now}
// as JWS requires for ES256 (RFC 7518 3.4): r and s as 32 big-endian bytes
// each, not ASN.1.
func (s *tokenSigner) signLocked() (string, error) {
	now := s.now()
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": s.keyID})
	claims, _ := json.Marshal(map[string]any{"iss": s.teamID, "iat": now.Unix()})
	input := b64(header) + "." + b64(claims)
	digest := sha256.Sum256([]byte(input))
	r, sig, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("apns: sign provider token: %w", err)
	}
	raw := make([]byte, 64)
	r.FillBytes(raw[:32])
	sig.FillBytes(raw[32:])
	s.bearer, s.issued = input+"."+b64(raw), now
	return s.bearer, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
