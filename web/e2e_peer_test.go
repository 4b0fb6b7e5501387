package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// peer is a device of the web client's e2e module run by Node
// (testdata/e2e/peer.mjs), driven one JSON command at a time.
type peer struct {
	t   *testing.T
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPeer(t *testing.T) *peer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to run the web client's e2e module: ", err)
	}
	cmd := exec.Command(node, "peer.mjs")
	cmd.Dir = "testdata/e2e"
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	return &peer{t: t, in: in, out: sc}
}

// do sends one command and decodes its answer into v, failing the test
// when the peer reports an error.
func (p *peer) do(cmd map[string]any, v any) {
	p.t.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatal(err)
	}
	if !p.out.Scan() {
		p.t.Fatalf("peer %s: no answer: %v", cmd["cmd"], p.out.Err())
	}
	var r struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	json.Unmarshal(p.out.Bytes(), &r)
	if !r.OK {
		p.t.Fatalf("peer %s: %s", cmd["cmd"], r.Error)
	}
	if v != nil {
		json.Unmarshal(p.out.Bytes(), v)
	}
}

type peerFile struct {
	Filename        string `json:"filename"`
	ContentType     string `json:"content_type"`
	Size            int    `json:"size"`
	SHA256          string `json:"sha256"`
	ThumbnailSHA256 string `json:"thumbnail_sha256"`
}

type peerMessage struct {
	Seq    int64      `json:"seq"`
	Locked bool       `json:"locked"`
	Failed bool       `json:"failed"`
	Text   string     `json:"text"`
	Files  []peerFile `json:"files"`
}

// waitText syncs the peer until it has decrypted a message with text.
func (p *peer) waitText(conv, text string) peerMessage {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var r struct{ Messages []peerMessage }
		p.do(map[string]any{"cmd": "sync", "conversation_id": conv}, &r)
		for _, m := range r.Messages {
			if m.Text == text {
				return m
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the peer never read %q: %+v", text, r.Messages)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func jpegFile(t *testing.T, w, h int) (string, []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	p := filepath.Join(t.TempDir(), "photo.jpg")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes()
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestE2EPeer_GoClient runs an encrypted direct conversation between the
// Go client and the web client's e2e module (under Node, against a real
// server): text and a photo with its thumbnail both ways, the 409 that
// teaches the web device its recipients (again when the Go user adds a
// device), and the same safety number on both sides.
func TestE2EPeer_GoClient(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Start(t, testserver.Options{MessageRate: 1000})
	alice := clienttest.OpenWith(t, register(t, srv.URL(), "alice"), t.TempDir(), func(c *client.Config) { c.Encryption = true })
	alice.Start()
	alice.WaitOnline()
	bob := register(t, srv.URL(), "bob")
	p := startPeer(t)
	// The directory's key digest of what the web device uploaded equals the
	// one the device computes (POST /v1/keys/check answers 200).
	var init struct{ Checked bool }
	p.do(map[string]any{"cmd": "init", "url": srv.URL(), "token": bob.Token, "user_id": bob.UserID, "device_id": bob.DeviceID}, &init)
	if !init.Checked {
		t.Error("POST /v1/keys/check disagreed with the keys the web device just uploaded")
	}

	conv, err := alice.Create(ctx, courier.NewConversation{Kind: courier.ConversationDirect, UserID: bob.UserID, Encrypted: true})
	if err != nil || !conv.Encrypted {
		t.Fatalf("%+v %v", conv, err)
	}

	// Go to web: text, a photo and the thumbnail the Go client made.
	photo, photoBytes := jpegFile(t, 1200, 800)
	if _, err := alice.Send(ctx, conv.ID, []byte("hello from go"), client.Attachment{Path: photo, Filename: "beach.jpg", ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	got := p.waitText(conv.ID, "hello from go")
	if len(got.Files) != 1 || got.Files[0].SHA256 != sum(photoBytes) || got.Files[0].Filename != "beach.jpg" || got.Files[0].ThumbnailSHA256 == "" {
		t.Fatalf("the web device read %+v; want beach.jpg (sha256 %s) with a thumbnail", got.Files, sum(photoBytes))
	}

	// Web to Go: its first send is refused once (409) while it learns Alice's device.
	reply, replyBytes := jpegFile(t, 640, 480)
	thumb, thumbBytes := jpegFile(t, 320, 240)
	var sent struct{ Seq, Tries int }
	p.do(map[string]any{"cmd": "send", "conversation_id": conv.ID, "text": "hello from the web",
		"files": []map[string]any{{"path": reply, "filename": "reply.jpg", "content_type": "image/jpeg", "thumbnail": thumb}}}, &sent)
	if sent.Tries != 2 {
		t.Errorf("the first web send took %d tries, want 2 (one 409 naming the recipient)", sent.Tries)
	}
	ms := alice.WaitMessages(conv.ID, "the web reply", func(ms []client.Message) bool {
		return len(ms) == 2 && !ms[1].Locked && string(ms[1].Body) == "hello from the web" && len(ms[1].Attachments) == 1
	})
	checkFile(t, "photo", func() (string, error) { return alice.Download(ctx, ms[1].Attachments[0], "") }, replyBytes)
	checkFile(t, "thumbnail", func() (string, error) { return alice.Thumbnail(ctx, ms[1].Attachments[0]) }, thumbBytes)

	// A second device of Alice's: the web device's next send meets a 409
	// again, starts a new chain, and both of Alice's devices read it.
	acct2, err := client.AddDevice(ctx, alice.Acct, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	acct2.URL = srv.URL()
	alice2 := clienttest.OpenWith(t, acct2, t.TempDir(), func(c *client.Config) { c.Encryption = true })
	alice2.Start()
	alice2.WaitOnline()
	waitRecipient(t, p, conv.ID)
	for _, d := range []*clienttest.Device{alice, alice2} {
		d.WaitMessages(conv.ID, "after a new device", func(ms []client.Message) bool {
			for _, m := range ms {
				if !m.Locked && string(m.Body) == "after a new device" {
					return true
				}
			}
			return false
		})
	}

	// An encrypted group of the three users: the web device's first send
	// learns four devices from one 409; a Go member's message opens on it.
	carol := clienttest.OpenWith(t, register(t, srv.URL(), "carol"), t.TempDir(), func(c *client.Config) { c.Encryption = true })
	carol.Start()
	carol.WaitOnline()
	group, err := alice.Create(ctx, courier.NewConversation{Kind: courier.ConversationGroup, Name: "trip", Members: []string{bob.UserID, carol.Acct.UserID}, Encrypted: true})
	if err != nil || !group.Encrypted {
		t.Fatalf("%+v %v", group, err)
	}
	p.do(map[string]any{"cmd": "send", "conversation_id": group.ID, "text": "hello group"}, &sent)
	if sent.Tries != 2 {
		t.Errorf("the first group send took %d tries, want 2", sent.Tries)
	}
	for _, d := range []*clienttest.Device{alice, alice2, carol} {
		d.WaitMessages(group.ID, "the web device's group message", func(ms []client.Message) bool {
			return len(ms) == 1 && !ms[0].Locked && string(ms[0].Body) == "hello group"
		})
	}
	if _, err := carol.Send(ctx, group.ID, []byte("hi from carol")); err != nil {
		t.Fatal(err)
	}
	p.waitText(group.ID, "hi from carol")

	var sn struct{ Number string }
	p.do(map[string]any{"cmd": "safety", "user_id": alice.Acct.UserID}, &sn)
	want, err := alice.SafetyNumber(ctx, bob.UserID)
	if err != nil || sn.Number != want || len(want) != 60 {
		t.Fatalf("safety numbers: web %q, go %q (%v)", sn.Number, want, err)
	}
}

// waitRecipient sends from the web device once the new device has keys:
// until then the server does not count it as a recipient.
func waitRecipient(t *testing.T, p *peer, conv string) {
	t.Helper()
	var sent struct{ Seq, Tries int }
	p.do(map[string]any{"cmd": "send", "conversation_id": conv, "text": "after a new device"}, &sent)
	if sent.Tries != 2 {
		t.Errorf("the send after a new device took %d tries, want 2", sent.Tries)
	}
}

func checkFile(t *testing.T, what string, get func() (string, error), want []byte) {
	t.Helper()
	path, err := get()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, want) {
		t.Fatalf("the %s the Go client decrypted differs from the one sent", what)
	}
}

func register(t *testing.T, url, name string) client.Account {
	t.Helper()
	acct, err := client.Register(context.Background(), url, name, "browser")
	if err != nil {
		t.Fatal(err)
	}
	return acct
}
