package worker

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/postgres"
)

// TestMedia_SharedByWhatTheBytesAre runs real files through the worker
// and downloads them as the owner and as another member of the
// conversation: what a member gets follows from what the worker found in
// the bytes (recorded as the blob's kind), never from the declared type.
// A photo that fails processing keeps its GPS, so whatever it was declared
// as (application/octet-stream, nothing, audio) it is its owner's only.
func TestMedia_SharedByWhatTheBytesAre(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	ctx := context.Background()
	accounts := postgres.NewAccountService(e.db)
	convs := postgres.NewConversationService(e.db, postgres.ConversationConfig{})
	msgs := postgres.NewMessageStore(e.db, postgres.MessageConfig{})
	t.Cleanup(func() { msgs.Close() })
	ownerDev, ownerToken, err := accounts.CreateDevice(ctx, e.owner, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	friend, _, friendToken, err := accounts.CreateAccount(ctx, "friend", "phone")
	if err != nil {
		t.Fatal(err)
	}
	conv, err := convs.CreateDirect(ctx, e.owner, friend.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := api.NewServer(api.Config{}, accounts, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	s.MountMedia(e.blobs, e.objects)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	withGPS := exifJPEG(t, quadrants(640, 480), 1, true)
	clip := ffmpegMake(t, nil, "-f lavfi -i testsrc=size=160x120:rate=10 -t 1 -c:v libx264 -pix_fmt yuv420p "+
		"-metadata location=+52.37+004.89/ clip.mov")
	if !bytes.Contains(clip, []byte("+52.37+004.89")) {
		t.Fatal("the test clip carries no location")
	}
	text := bytes.Repeat([]byte("minutes of the meeting "), 50)
	for i, c := range []struct {
		name, declared string
		data           []byte
		kind           courier.BlobKind
		state          courier.BlobState
		friendGets     int
		friendGetsOrig bool // the upload as sent, else (on 200) a copy
	}{
		{"photo as octet-stream, fails", "application/octet-stream", withGPS[:len(withGPS)*2/3], courier.KindPhoto, courier.BlobFailed, 409, false},
		{"photo without filetype, fails", "", withGPS[:len(withGPS)*2/3], courier.KindPhoto, courier.BlobFailed, 409, false},
		{"photo declared audio, fails", "audio/mpeg", withGPS[:len(withGPS)*2/3], courier.KindPhoto, courier.BlobFailed, 409, false},
		{"photo as octet-stream", "application/octet-stream", withGPS, courier.KindPhoto, courier.BlobReady, 200, false},
		{"video declared a PDF", "application/pdf", clip, courier.KindVideo, courier.BlobReady, 200, false},
		{"text declared a photo, fails", "image/jpeg", text, "", courier.BlobFailed, 409, false},
		{"text", "application/octet-stream", text, courier.KindOther, courier.BlobReady, 200, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := e.upload(c.data, c.declared, courier.BlobPlain)
			e.run(TypeProcessBlob, b.ID) // bad media fails with SkipRetry: the row says how
			got := e.blob(b.ID)
			if got.Kind == courier.KindVideo && got.Variant("mp4") == nil {
				// The MP4 job asynq would run next.
				if err := e.run(TypeTranscodeBlob, b.ID); err != nil {
					t.Fatal(err)
				}
				got = e.blob(b.ID)
			}
			if got.State != c.state || got.Kind != c.kind {
				t.Fatalf("blob is %s, kind %q (%s); want %s, kind %q", got.State, got.Kind, got.FailReason, c.state, c.kind)
			}
			if _, _, err := msgs.Send(ctx, ownerDev, courier.SendRequest{ConversationID: conv.ID,
				ClientID: base64.RawURLEncoding.EncodeToString([]byte{byte(i)}), Body: []byte("x"),
				Attachments: []string{b.ID}}); err != nil {
				t.Fatal(err)
			}

			status, body := download(t, srv.URL+"/v1/media/"+b.ID, friendToken)
			if status != c.friendGets {
				t.Fatalf("friend: HTTP %d, want %d", status, c.friendGets)
			}
			if status == http.StatusOK && bytes.Equal(body, c.data) != c.friendGetsOrig {
				t.Errorf("friend got the upload as sent: %v, want %v", bytes.Equal(body, c.data), c.friendGetsOrig)
			}
			if bytes.Contains(body, []byte(gpsMarker)) || bytes.Contains(body, []byte("+52.37+004.89")) {
				t.Error("friend got the location")
			}
			if status, _ := download(t, srv.URL+"/v1/media/"+b.ID, ownerToken); status != http.StatusOK {
				t.Errorf("owner: HTTP %d, want 200", status)
			}
		})
	}
}

func download(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
