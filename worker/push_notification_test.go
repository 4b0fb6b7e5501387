package worker_test

import (
	"bytes"
	"crypto/hpke"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns"
	"github.com/courier-chat/courier/worker"
)

// content is a push for a phone with an X-Wing push key.
func content(t *testing.T, body string) (*courier.PushContent, []byte) {
	t.Helper()
	sk, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := sk.Bytes()
	return &courier.PushContent{
		Registration: &courier.PushRegistration{DeviceID: courier.NewID(), Service: courier.PushAPNs, Token: strings.Repeat("ab", 32),
			Topic: topic, Environment: courier.PushProduction, KEM: courier.PushKEMXWing, PublicKey: sk.PublicKey().Bytes()},
		ConversationKind: courier.ConversationGroup, ConversationName: "Climbing", Unread: 1, Badge: 4, SenderName: "Ada",
		Message: &courier.Message{ConversationID: courier.NewID(), Seq: 9, SenderID: courier.NewID(), Body: []byte(body),
			CreatedAt: time.UnixMilli(1764892800123)},
	}, priv
}

func build(t *testing.T, c *courier.PushContent, priv []byte) (*courier.PushPreview, []byte) {
	t.Helper()
	n, err := worker.BuildNotification(c, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := apns.Payload(n)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	p, err := courier.OpenPush(courier.PushKEMXWing, priv, n.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	return p, raw
}

func TestBuildNotification_EncryptedConversationsCarryNoPlaintext(t *testing.T) {
	const secret = "the plaintext the server must never show"
	c, priv := content(t, secret) // what a store would hold if it could read it
	// Names with a space: the sealed part is base64, whose alphabet has
	// none, so a random ciphertext can never spell them by chance.
	c.SenderName, c.ConversationName = "Ada L", "Climbing club"
	c.Encrypted = true
	c.Envelope = []byte("ciphertext envelope for this device")
	p, raw := build(t, c, priv)
	if !p.Encrypted || !bytes.Equal(p.Envelope, c.Envelope) || p.Text != "" || p.SenderName != "" || p.ConversationName != "" {
		t.Fatalf("encrypted preview %+v: want the envelope and nothing readable", p)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte(c.SenderName)) || bytes.Contains(raw, []byte(c.ConversationName)) {
		t.Fatalf("plaintext in the push: %s", raw)
	}

	// An envelope over the budget is left out: the extension fetches
	// (conversation, seq) instead.
	c.Envelope = bytes.Repeat([]byte{7}, 3000)
	p, raw = build(t, c, priv)
	if p.Envelope != nil || p.ConversationID != c.Message.ConversationID || p.Seq != 9 || len(raw) > apns.MaxPayload {
		t.Fatalf("big envelope: preview %+v, payload %d bytes", p, len(raw))
	}
}

func TestBuildNotification_Fits(t *testing.T) {
	long := strings.Repeat("\u0001", 600) // JSON writes each as \u0001: six bytes
	c, priv := content(t, long)
	c.Message.Attachments = []string{courier.NewID(), courier.NewID()}
	c.AttachmentType = "video/mp4"
	p, raw := build(t, c, priv)
	if len(raw) > apns.MaxPayload || !p.Truncated || !strings.HasPrefix(long, p.Text) {
		t.Fatalf("payload %d bytes, preview text %d bytes truncated=%v", len(raw), len(p.Text), p.Truncated)
	}
	if p.Attachment != "video" || p.Attachments != 2 || p.ConversationName != "Climbing" || p.SenderName != "Ada" {
		t.Fatalf("preview %+v", p)
	}
	// No push key: an alert with the badge and nothing sealed.
	c.Registration.KEM, c.Registration.PublicKey = "", nil
	n, err := worker.BuildNotification(c, time.Now())
	if err != nil || n.Sealed != nil || *n.Badge != 4 || n.Alert != worker.PushAlert {
		t.Fatalf("keyless push %+v, %v", n, err)
	}
	// Nothing unread: nothing to send.
	c.Message = nil
	if n, err := worker.BuildNotification(c, time.Now()); n != nil || err != nil {
		t.Fatalf("pushed nothing unread: %+v, %v", n, err)
	}
}
