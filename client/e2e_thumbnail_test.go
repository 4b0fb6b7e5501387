package client_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// A photo sent to an encrypted conversation goes with a thumbnail the
// sender made and encrypted as a second blob: the recipient's message
// shows one attachment, whose Thumbnail is a JPEG fitted in 320 px, and
// whose Download is the photo. A file that is no picture has none. The
// sender's encrypted copies are gone once uploaded.
func TestE2E_Thumbnail(t *testing.T) {
	ctx := context.Background()
	srv, alice, bob, conv := e2eDirect(t)
	img := image.NewRGBA(image.Rect(0, 0, 1200, 800))
	for y := range 800 {
		for x := range 1200 {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	photo := filepath.Join(t.TempDir(), "beach.jpg")
	note := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(photo, b.Bytes(), 0o600)
	os.WriteFile(note, []byte("not a picture"), 0o600)
	if _, err := alice.Send(ctx, conv.ID, []byte("the beach"), client.Attachment{Path: photo, ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Send(ctx, conv.ID, []byte("a note"), client.Attachment{Path: note}); err != nil {
		t.Fatal(err)
	}

	for _, d := range []*clienttest.Device{bob, alice} {
		ms := d.WaitMessages(conv.ID, "both attachments", func(ms []client.Message) bool {
			return len(ms) == 2 && len(ms[0].Attachments) == 1 && len(ms[1].Attachments) == 1 && ms[1].Seq > 0
		})
		thumb, err := d.Thumbnail(ctx, ms[0].Attachments[0])
		if err != nil {
			t.Fatalf("%s: thumbnail: %v", d.Acct.DeviceID, err)
		}
		f, err := os.Open(thumb)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := jpeg.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != 320 || cfg.Height != 213 {
			t.Fatalf("%s: thumbnail %dx%d, %v; want a 320x213 JPEG", d.Acct.DeviceID, cfg.Width, cfg.Height, err)
		}
		got, err := d.Download(ctx, ms[0].Attachments[0], "")
		if err != nil {
			t.Fatal(err)
		}
		if g, _ := os.ReadFile(got); !bytes.Equal(g, b.Bytes()) {
			t.Fatalf("%s: the photo downloaded differs", d.Acct.DeviceID)
		}
		if _, err := d.Thumbnail(ctx, ms[1].Attachments[0]); courier.ErrorCode(err) != courier.ENOTFOUND {
			t.Fatalf("%s: the note's thumbnail: %v, want not_found", d.Acct.DeviceID, err)
		}
	}
	// Sent, so uploaded: no encrypted copy is left behind.
	left, _ := os.ReadDir(filepath.Join(alice.Dir, "media", "outgoing"))
	if len(left) != 0 {
		t.Fatalf("%d encrypted copies left in the outgoing folder", len(left))
	}
	// The server holds the photo, its thumbnail and the note: three e2e
	// blobs, none of them readable to it.
	var blobs []string
	if err := srv.DB.Pool.QueryRow(ctx, `SELECT array_agg(mode ORDER BY mode) FROM blobs`).Scan(&blobs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(blobs, []string{"e2e", "e2e", "e2e"}) {
		t.Fatalf("blobs on the server: %v, want three e2e ones", blobs)
	}
}
