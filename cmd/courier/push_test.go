package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns/apnstest"
	"github.com/courier-chat/courier/internal/testenv"
)

// pushProcess is a dev process whose APNs is a fake on loopback.
func pushProcess(t *testing.T) (*testProcess, *apnstest.Server, Config) {
	t.Helper()
	fake := apnstest.New(t)
	dir := t.TempDir()
	keyFile, caFile := filepath.Join(dir, "AuthKey.p8"), filepath.Join(dir, "ca.pem")
	os.WriteFile(keyFile, fake.KeyPEM, 0o600)
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fake.Certificate().Raw}), 0o600)
	cfg := testConfig(t)
	cfg.RedisURL = testenv.NewRedisDB(t) // a worker of its own: no other test takes the job
	cfg.Push.APNsKeyFile, cfg.Push.APNsKeyID, cfg.Push.APNsTeamID = keyFile, fake.KeyID, fake.TeamID
	cfg.Push.APNsURL, cfg.Push.APNsSandboxURL, cfg.Push.CAFile = fake.URL, fake.URL, caFile
	return startProcess(t, "dev", cfg), fake, cfg
}

// An offline phone gets the message as a sealed preview from APNs, its
// extension acknowledges it, and the sender sees it delivered.
func TestEndToEnd_PushToAnOfflinePhone(t *testing.T) {
	p, fake, cfg := pushProcess(t)
	alice, bob := createAccount(t, p, "alice"), createAccount(t, p, "bob")
	key, _ := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	token := fake.AddDevice("chat.courier.app")
	if resp := do(t, "PUT", p.URL+"/v1/push", bob.Token, map[string]any{"service": "apns", "token": token,
		"topic": "chat.courier.app", "environment": "sandbox", "kem": "x25519", "public_key": key.PublicKey().Bytes()}, nil); resp.StatusCode != 200 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	conv := createConversation(t, p.URL, alice.Token, map[string]any{"kind": "direct", "user_id": bob.UserID})
	var sent struct{ Seq int64 }
	if resp := do(t, "POST", p.URL+"/v1/conversations/"+conv+"/messages", alice.Token,
		map[string]any{"client_id": "m1", "body": []byte("see you at 8")}, &sent); resp.StatusCode != 201 {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	var got []apnstest.Notification
	for deadline := time.Now().Add(15 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = fake.Accepted()
	}
	if len(got) != 1 {
		t.Fatalf("%d pushes reached APNs, want 1", len(got))
	}
	if bytes.Contains(got[0].Raw, []byte("see you")) {
		t.Fatalf("plaintext in the push: %s", got[0].Raw)
	}
	sealed, _ := base64.StdEncoding.DecodeString(got[0].Payload["sealed"].(string))
	priv, _ := key.Bytes()
	preview, err := courier.OpenPush("x25519", priv, sealed)
	if err != nil || preview.Text != "see you at 8" || preview.SenderName != "alice" || preview.Seq != sent.Seq || preview.ConversationID != conv {
		t.Fatalf("preview %+v, %v", preview, err)
	}

	// The extension acks with the push token alone.
	var ack struct {
		DeliveredSeq int64 `json:"delivered_seq"`
	}
	if resp := do(t, "POST", p.URL+"/v1/push/ack", "", map[string]any{"push_token": token, "conversation_id": conv, "seq": preview.Seq}, &ack); resp.StatusCode != 200 || ack.DeliveredSeq != sent.Seq {
		t.Fatalf("ack: %d %+v", resp.StatusCode, ack)
	}
	var view courier.Conversation
	do(t, "GET", p.URL+"/v1/conversations/"+conv, alice.Token, nil, &view)
	for _, m := range view.Members {
		if m.UserID == bob.UserID && m.DeliveredSeq != sent.Seq {
			t.Fatalf("alice sees bob at delivered %d, want %d", m.DeliveredSeq, sent.Seq)
		}
	}

	// The metrics say so.
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`courier_push_sent_total{kind="message",service="apns"} 1`, `courier_push_latency_seconds_count{service="apns"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// `courier push test DEVICE` sends through the same configuration.
	var out, errOut bytes.Buffer
	args := []string{"push", "test", "-database-url", cfg.DatabaseURL, "-apns-key-file", cfg.Push.APNsKeyFile,
		"-apns-key-id", fake.KeyID, "-apns-team-id", fake.TeamID, "-apns-url", fake.URL, "-apns-sandbox-url", fake.URL,
		"-push-ca-file", cfg.Push.CAFile, bob.DeviceID}
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("push test: %v (%s)", err, errOut.String())
	}
	got = fake.Accepted()
	if !strings.Contains(out.String(), "accepted by apns") || len(got) != 2 {
		t.Fatalf("push test printed %q; %d pushes", out.String(), len(got))
	}
	sealed, _ = base64.StdEncoding.DecodeString(got[1].Payload["sealed"].(string))
	if preview, err := courier.OpenPush("x25519", priv, sealed); err != nil || preview.Kind != courier.PushTest {
		t.Fatalf("test push preview %+v, %v", preview, err)
	}
	// A device without a registration is named in the error.
	if err := run(context.Background(), []string{"push", "test", "-database-url", cfg.DatabaseURL, alice.DeviceID}, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), alice.DeviceID) {
		t.Fatalf("push test to an unregistered device: %v", err)
	}
}
