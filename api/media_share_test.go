package api_test

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
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// TestMedia_OriginalsSharedWithoutMetadata: a member who is not the
// uploader never gets the upload as sent for plain photos and videos (it
// may carry GPS or a filming location), only the worker's metadata-free
// copy; the owner gets their own upload.
func TestMedia_OriginalsSharedWithoutMetadata(t *testing.T) {
	db := testenv.NewDB(t)
	objects, _ := testenv.NewS3(t)
	ctx := context.Background()
	accounts := postgres.NewAccountService(db.Pool)
	blobs := postgres.NewBlobStore(db.Pool)
	convs := postgres.NewConversationService(db.Pool, postgres.ConversationConfig{})
	msgs := postgres.NewMessageStore(db.Pool, postgres.MessageConfig{})
	t.Cleanup(func() { msgs.Close() })
	s := api.NewServer(api.Config{}, accounts, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	s.MountMedia(blobs, objects)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	owner, ownerDev, ownerToken, _ := accounts.CreateAccount(ctx, "owner", "phone")
	friend, _, friendToken, _ := accounts.CreateAccount(ctx, "friend", "phone")
	conv, err := convs.CreateDirect(ctx, owner.ID, friend.ID)
	if err != nil {
		t.Fatal(err)
	}

	put := func(key, body string) courier.Variant {
		if _, err := objects.Put(ctx, key, bytes.NewReader([]byte(body)), int64(len(body)), "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		return courier.Variant{Key: key, Size: int64(len(body))}
	}
	// The kind is what the worker found in the bytes; the declared
	// content type must change nothing.
	for i, tc := range []struct {
		name        string
		contentType string
		kind        courier.BlobKind
		variant     string // the metadata-free copy, "" for none yet
		state       courier.BlobState
		friendGets  int
		friendBody  string
	}{
		{"photo, stripped", "image/jpeg", courier.KindPhoto, "original", courier.BlobReady, 200, "copy"},
		{"photo, processing", "image/jpeg", "", "", courier.BlobProcessing, 409, ""},
		{"photo declared octet-stream, failed", "application/octet-stream", courier.KindPhoto, "", courier.BlobFailed, 409, ""},
		{"photo declared nothing, failed", "", courier.KindPhoto, "", courier.BlobFailed, 409, ""},
		{"failed before the bytes were read", "application/pdf", "", "", courier.BlobFailed, 409, ""},
		{"video, remuxed", "video/quicktime", courier.KindVideo, "mp4", courier.BlobReady, 200, "copy"},
		{"video declared a file, remuxed", "application/octet-stream", courier.KindVideo, "mp4", courier.BlobReady, 200, "copy"},
		{"video, mp4 not made yet", "video/mp4", courier.KindVideo, "", courier.BlobReady, 409, ""},
		{"video declared a file, mp4 not made yet", "application/pdf", courier.KindVideo, "", courier.BlobReady, 409, ""},
		{"video, failed", "video/mp4", "", "", courier.BlobFailed, 409, ""},
		{"file", "application/pdf", courier.KindOther, "", courier.BlobReady, 200, "as sent"},
		{"file declared a photo", "image/jpeg", courier.KindOther, "", courier.BlobReady, 200, "as sent"},
		{"audio", "audio/mp4", courier.KindAudio, "", courier.BlobReady, 200, "as sent"},
		{"ready, kind not recorded", "application/pdf", "", "", courier.BlobReady, 409, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := courier.NewID()
			b := &courier.Blob{ID: id, OwnerID: owner.ID, Mode: courier.BlobPlain, State: courier.BlobProcessing,
				ContentType: tc.contentType, Filename: "f", StorageKey: "blobs/" + id}
			b.Size = put(b.StorageKey, "as sent").Size
			if _, err := blobs.CreateBlob(ctx, b); err != nil {
				t.Fatal(err)
			}
			b.State, b.Kind = tc.state, tc.kind
			if tc.variant != "" {
				v := put("variants/"+id+"/"+tc.variant, "copy")
				v.Name, v.ContentType = tc.variant, tc.contentType
				b.Variants = []courier.Variant{v}
			}
			if err := blobs.FinishBlob(ctx, b); err != nil {
				t.Fatal(err)
			}
			_, _, err := msgs.Send(ctx, ownerDev, courier.SendRequest{ConversationID: conv.ID,
				ClientID: base64.RawURLEncoding.EncodeToString([]byte{byte(i)}), Body: []byte("x"), Attachments: []string{id}})
			if err != nil {
				t.Fatal(err)
			}

			status, body := get(t, srv.URL+"/v1/media/"+id, friendToken)
			if status != tc.friendGets || (status == 200 && body != tc.friendBody) {
				t.Errorf("friend: %d %q, want %d %q", status, body, tc.friendGets, tc.friendBody)
			}
			wantOwner := "as sent"
			if tc.variant == "original" {
				wantOwner = "copy" // photos: everyone gets the stripped original
			}
			if status, body := get(t, srv.URL+"/v1/media/"+id, ownerToken); status != 200 || body != wantOwner {
				t.Errorf("owner: %d %q, want 200 %q", status, body, wantOwner)
			}
		})
	}
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
