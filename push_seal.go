package courier

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/json"
	"unicode/utf8"
)

// PushSealInfo is the HPKE info string of every sealed push payload: it
// binds the ciphertext to this use, so a key registered for pushes opens
// nothing sealed for another purpose.
const PushSealInfo = "courier push v1"

// PushPreview is what a device's Notification Service Extension reads
// after opening the sealed payload (JSON, fields left out when empty). The
// server writes the preview of a plain conversation; for an encrypted one
// it carries the device's own envelope when it fits the provider's 4 KB,
// and otherwise only the conversation and seq, for the extension to fetch.
type PushPreview struct {
	V              int      `json:"v"` // PushPreviewVersion
	Kind           PushKind `json:"kind"`
	ConversationID string   `json:"conversation_id,omitempty"`
	Seq            int64    `json:"seq,omitempty"`
	// SentAt is the server timestamp of the message, in Unix milliseconds.
	SentAt           int64  `json:"ts,omitempty"`
	SenderID         string `json:"sender_id,omitempty"`
	SenderName       string `json:"sender_name,omitempty"`
	ConversationName string `json:"conversation_name,omitempty"` // groups only
	// Text is the start of the message body (plain conversations only),
	// cut at a character boundary; Truncated says it was cut.
	Text      string `json:"text,omitempty"`
	Truncated bool   `json:"truncated,omitempty"`
	// Attachment is the kind of the first attachment: photo, video,
	// audio or file; Attachments how many there are.
	Attachment  string `json:"attachment,omitempty"`
	Attachments int    `json:"attachments,omitempty"`
	// Unread is how many messages of this conversation are unread.
	Unread int64 `json:"unread,omitempty"`
	// Encrypted conversations: Envelope is the device's envelope as the
	// mailbox holds it; when it is absent, fetch (ConversationID, Seq).
	Encrypted bool   `json:"encrypted,omitempty"`
	Envelope  []byte `json:"envelope,omitempty"`
}

// PushPreviewVersion is the preview format described in docs/push.md.
const PushPreviewVersion = 1

// MaxPushTextExcerpt bounds the text of a preview, in bytes: the whole push
// must fit APNs' 4096 bytes after an X-Wing encapsulation (1120 bytes) and
// base64.
const MaxPushTextExcerpt = 512

// Excerpt returns the start of body as preview text: at most max bytes,
// cut at a character boundary. ok is false when body is not UTF-8 text
// (then it is no preview of anything).
func Excerpt(body []byte, max int) (text string, truncated, ok bool) {
	if !utf8.Valid(body) {
		return "", false, false
	}
	if len(body) <= max {
		return string(body), false, true
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return string(body[:cut]), true, true
}

// pushSuite returns the HPKE suite of a push KEM name.
func pushSuite(kem string) (hpke.KEM, hpke.KDF, hpke.AEAD, error) {
	switch kem {
	case PushKEMXWing:
		return hpke.MLKEM768X25519(), hpke.HKDFSHA256(), hpke.AES256GCM(), nil
	case PushKEMX25519:
		return hpke.DHKEM(ecdh.X25519()), hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), nil
	}
	return nil, nil, nil, Errorf(EINVALID, "kem must be %q or %q", PushKEMXWing, PushKEMX25519)
}

// ParsePushKey checks that pub is a public key of kem.
func ParsePushKey(kem string, pub []byte) (hpke.PublicKey, error) {
	k, _, _, err := pushSuite(kem)
	if err != nil {
		return nil, err
	}
	pk, err := k.NewPublicKey(pub)
	if err != nil {
		return nil, Errorf(EINVALID, "public_key is not a %s public key", kem)
	}
	return pk, nil
}

// SealPush seals p to the device's push key: HPKE base mode, single shot,
// info PushSealInfo, no AAD; the result is enc || ciphertext (RFC 9180's
// encapsulated key followed by the AEAD output).
func SealPush(kem string, pub []byte, p *PushPreview) ([]byte, error) {
	pk, err := ParsePushKey(kem, pub)
	if err != nil {
		return nil, err
	}
	_, kdf, aead, _ := pushSuite(kem)
	plain, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, kdf, aead, []byte(PushSealInfo), plain)
}

// OpenPush is the device's side of SealPush, given its private key as
// RFC 9180 SerializePrivateKey bytes: what the extension does, for tests
// and for `courier push test`.
func OpenPush(kem string, priv, sealed []byte) (*PushPreview, error) {
	k, kdf, aead, err := pushSuite(kem)
	if err != nil {
		return nil, err
	}
	sk, err := k.NewPrivateKey(priv)
	if err != nil {
		return nil, Errorf(EINVALID, "not a %s private key", kem)
	}
	plain, err := hpke.Open(sk, kdf, aead, []byte(PushSealInfo), sealed)
	if err != nil {
		return nil, Errorf(EINVALID, "sealed push does not open with this key")
	}
	var p PushPreview
	if err := json.Unmarshal(plain, &p); err != nil {
		return nil, Errorf(EINVALID, "sealed push holds no preview: %v", err)
	}
	return &p, nil
}
