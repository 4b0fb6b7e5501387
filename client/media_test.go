package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"image"
	"image/color"
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// A photo is uploaded with tus before its message goes out; the recipient
// gets the blob ID, the worker's media.ready reaches the sender, and the
// recipient downloads the thumbnail once (the second time from the cache).
func TestClient_PhotoAttachment(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	bob.Start()
	alice.WaitOnline()
	bob.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)

	photo := filepath.Join(t.TempDir(), "beach.png")
	writePNG(t, photo, 800, 600)
	m, err := alice.Send(ctx, conv.ID, []byte("look"), client.Attachment{Path: photo, ContentType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Uploads) != 1 || m.Uploads[0].Filename != "beach.png" {
		t.Fatalf("uploads = %+v", m.Uploads)
	}
	got := clienttest.WaitEvent(bob, "photo message", func(e client.MessageEvent) bool { return string(e.Message.Body) == "look" })
	if len(got.Message.Attachments) != 1 {
		t.Fatalf("bob got attachments %v", got.Message.Attachments)
	}
	blobID := got.Message.Attachments[0]
	ready := clienttest.WaitEvent(alice, "media.ready", func(e client.MediaEvent) bool { return e.BlobID == blobID && e.State == "ready" })
	if ready.Size == 0 {
		t.Fatalf("media.ready without size: %+v", ready)
	}
	b, err := bob.Blob(ctx, blobID)
	if err != nil || b.Variant("thumb") == nil {
		t.Fatalf("blob info %+v, %v; want a thumb variant", b, err)
	}
	p, err := bob.Download(ctx, blobID, "thumb")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(p)
	cfg, _, err := image.DecodeConfig(f)
	f.Close()
	if err != nil || max(cfg.Width, cfg.Height) != 320 {
		t.Fatalf("thumb %dx%d, %v; want fit 320", cfg.Width, cfg.Height, err)
	}
	os.WriteFile(p+".marker", nil, 0o600)
	if p2, err := bob.Download(ctx, blobID, "thumb"); err != nil || p2 != p {
		t.Fatalf("second download %s, %v; want the cached %s", p2, err, p)
	}
	// Alice's own copy lists the blob too.
	ms := alice.WaitMessages(conv.ID, "sent with attachment", clienttest.AllIn(client.MessageDelivered))
	if len(ms[0].Attachments) != 1 || ms[0].Attachments[0] != blobID {
		t.Fatalf("alice's message attachments %v", ms[0].Attachments)
	}
}

// An upload cut by the client closing resumes from the server's offset
// when the client starts again on the same store: the bytes arrive whole
// and the message goes out once.
func TestClient_UploadResumes(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	alice.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)
	alice.Close()

	data := make([]byte, 3<<20)
	rand.Read(data)
	file := filepath.Join(t.TempDir(), "notes.bin")
	os.WriteFile(file, data, 0o600)

	small, err := client.New(client.Config{Store: alice.Store(), UploadChunk: 256 << 10, MinBackoff: 50e6})
	if err != nil {
		t.Fatal(err)
	}
	small.Send(ctx, conv.ID, []byte("file"), client.Attachment{Path: file, E2E: true})
	small.Start()
	// Stop after some but not all of the bytes went up.
	for e := range small.Events() {
		if me, ok := e.(client.MediaEvent); ok && me.State == "uploading" && me.Offset >= 1<<20 {
			break
		}
	}
	small.Close()
	var offset int64
	if n, _ := alice.Store().Outbox().Len(ctx); n != 1 {
		t.Fatalf("outbox holds %d after the cut, want 1", n)
	}
	heads, _ := alice.Store().Outbox().Heads(ctx)
	offset = heads[0].Uploads[0].Offset
	if offset == 0 || offset >= int64(len(data)) {
		t.Fatalf("cut at offset %d", offset)
	}

	again := clienttest.Open(t, alice.Acct, alice.Dir)
	again.Start()
	first := clienttest.WaitEvent(again, "resumed progress", func(e client.MediaEvent) bool { return e.State == "uploading" })
	if first.Offset <= offset {
		t.Fatalf("resumed at %d, want after %d (HEAD's offset)", first.Offset, offset)
	}
	bob.Start()
	got := clienttest.WaitEvent(bob, "file message", func(e client.MessageEvent) bool { return string(e.Message.Body) == "file" })
	p, err := bob.Download(ctx, got.Message.Attachments[0], "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(b), len(data))
	}
	if ms := bob.Messages(conv.ID); len(ms) != 1 {
		t.Fatalf("bob holds %s, want the message once", clienttest.Describe(ms))
	}
}

func writePNG(t *testing.T, path string, w, h int) {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}
