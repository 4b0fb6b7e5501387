package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// Two users with two devices each and a group of five exchange encrypted
// text and photos across three nodes. Every device reads what it should;
// a device added later reads only what was sent after it joined, a
// removed member nothing sent after removal, a revoked device nothing
// after revocation and its keys are refused. Every plaintext and file
// carries a random marker, and afterwards the marker is found in no
// PostgreSQL table, S3 object, Redis key or pub/sub payload, and no log
// line of any node.
func TestE2E_Exchange(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Nodes: 3, MessageRate: 1000,
		Env: []string{"COURIER_LOG_LEVEL=debug"}})
	pubsub := watchPubSub(t, srv.RedisURL)
	ctx := context.Background()
	marker := "mk" + strings.ToUpper(hex.EncodeToString(randomBytes(12)))
	text := func(s string) string { return s + " " + marker }
	n0, n1, n2 := srv.Nodes[0].URL, srv.Nodes[1].URL, srv.Nodes[2].URL

	alice := e2eAccount(t, n0, "alice")
	alice2 := e2eDevice(t, alice, n1)
	bob := e2eAccount(t, n1, "bob")
	bob2 := e2eDevice(t, bob, n2)
	carol, dave, erin := e2eAccount(t, n2, "carol"), e2eAccount(t, n0, "dave"), e2eAccount(t, n1, "erin")

	// A direct conversation: text, then a photo the other way.
	direct, err := alice.Create(ctx, courier.NewConversation{Kind: courier.ConversationDirect, UserID: bob.Acct.UserID, Encrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	alice.Send(ctx, direct.ID, []byte(text("hello bob")))
	for _, d := range []*clienttest.Device{bob, bob2, alice2} {
		d.WaitMessages(direct.ID, "the first direct message", hasText(text("hello bob")))
	}
	photo := writePhoto(t, marker)
	bob2.Send(ctx, direct.ID, []byte(text("a photo")), client.Attachment{Path: photo, ContentType: "image/jpeg"})
	for _, d := range []*clienttest.Device{alice, alice2, bob} {
		wantPhoto(t, d, direct.ID, text("a photo"), photo)
	}

	// A group of five: everyone writes, every device reads everything.
	everyone := []*clienttest.Device{alice, alice2, bob, bob2, carol, dave, erin}
	group, err := alice.Create(ctx, courier.NewConversation{Kind: courier.ConversationGroup, Name: "five", Encrypted: true,
		Members: []string{bob.Acct.UserID, carol.Acct.UserID, dave.Acct.UserID, erin.Acct.UserID}})
	if err != nil {
		t.Fatal(err)
	}
	writers := []*clienttest.Device{alice, bob, carol, dave, erin}
	for _, w := range writers {
		w.Send(ctx, group.ID, []byte(text("hi from "+w.Acct.UserID)))
	}
	for _, d := range everyone {
		for _, w := range writers {
			d.WaitMessages(group.ID, "hi from "+w.Acct.UserID, hasText(text("hi from "+w.Acct.UserID)))
		}
	}
	groupPhoto := writePhoto(t, marker)
	carol.Send(ctx, group.ID, []byte(text("group photo")), client.Attachment{Path: groupPhoto, ContentType: "image/jpeg"})
	for _, d := range []*clienttest.Device{dave, alice2, bob2} {
		wantPhoto(t, d, group.ID, text("group photo"), groupPhoto)
	}

	// A device added later reads what is sent after it joined, nothing
	// from before.
	carol2 := e2eDevice(t, carol, n0)
	dave.Send(ctx, group.ID, []byte(text("after carol2 joined")))
	ms := carol2.WaitMessages(group.ID, "the message after joining", hasText(text("after carol2 joined")))
	for _, m := range ms {
		if !bytes.Contains(m.Body, []byte("after carol2 joined")) && (!m.Locked || len(m.Body) > 0) {
			t.Errorf("carol2 reads seq %d from before it joined: %q locked=%v", m.Seq, m.Body, m.Locked)
		}
	}

	// A removed member reads nothing sent after the removal.
	call(t, alice, http.MethodDelete, "/v1/conversations/"+group.ID+"/members/"+erin.Acct.UserID, nil, http.StatusNoContent)
	dave.Send(ctx, group.ID, []byte(text("after erin left")))
	for _, d := range []*clienttest.Device{alice, carol2, bob2} {
		d.WaitMessages(group.ID, "the message after the removal", hasText(text("after erin left")))
	}

	// A revoked device reads nothing after, and its keys are refused.
	if err := alice.RevokeDevice(ctx, alice2.Acct.DeviceID); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice2, "revoked", func(e client.ConnectionEvent) bool { return e.State == client.Revoked })
	bob.Send(ctx, direct.ID, []byte(text("after the revocation")))
	alice.WaitMessages(direct.ID, "the message after the revocation", hasText(text("after the revocation")))
	call(t, alice2, http.MethodPut, "/v1/keys", courier.KeyUpload{}, http.StatusUnauthorized)
	var keys struct{ Devices []courier.DeviceKeys }
	call(t, bob, http.MethodGet, "/v1/users/"+alice.Acct.UserID+"/keys", &keys, http.StatusOK)
	if len(keys.Devices) != 1 || keys.Devices[0].DeviceID != alice.Acct.DeviceID {
		t.Errorf("alice's keys after revoking a device: %+v, want only %s", keys.Devices, alice.Acct.DeviceID)
	}
	time.Sleep(time.Second) // anything misrouted would have arrived by now
	if hasText(text("after erin left"))(erin.Messages(group.ID)) || len(erin.Messages(group.ID)) > 7 {
		t.Errorf("erin got messages after her removal: %s", clienttest.Describe(erin.Messages(group.ID)))
	}
	if hasText(text("after the revocation"))(alice2.Messages(direct.ID)) {
		t.Error("the revoked device read a message sent after its revocation")
	}

	t.Run("no plaintext on the server", func(t *testing.T) {
		forms := markerForms(marker)
		found := func(where string, b []byte) {
			for _, f := range forms {
				if bytes.Contains(b, f) {
					t.Errorf("the marker (as %q) is in %s", f, where)
					return
				}
			}
		}
		scanPostgres(t, srv, found)
		scanS3(t, srv, found)
		scanRedis(t, srv.RedisURL, found)
		found("a pub/sub payload", pubsub())
		for i, n := range srv.Nodes {
			found(fmt.Sprintf("node %d's log", i), []byte(n.Logs()))
		}
		// The watch saw this cluster's events (they name user IDs).
		if !bytesIn(pubsub(), []byte(alice.Acct.UserID)) {
			t.Error("no pub/sub traffic was seen: the watch saw nothing")
		}
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func bytesIn(b, sub []byte) bool { return bytes.Contains(b, sub) }

// markerForms is the marker as the server could hold it: raw, hex (a
// bytea as text) and base64 at each of the three alignments it can have
// inside a longer encoded string (JSON bodies).
func markerForms(marker string) [][]byte {
	m := []byte(marker)
	forms := [][]byte{m, []byte(hex.EncodeToString(m))}
	for k := range 3 {
		s := m[k:]
		s = s[:len(s)/3*3]
		forms = append(forms, []byte(base64.StdEncoding.EncodeToString(s)), []byte(base64.RawURLEncoding.EncodeToString(s)))
	}
	return forms
}

// writePhoto writes a small JPEG with the marker after its end, as a
// camera's trailer would be.
func writePhoto(t *testing.T, marker string) string {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	b.WriteString(marker)
	b.Write(randomBytes(1000))
	p := filepath.Join(t.TempDir(), "holiday-"+marker+".jpg")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantPhoto waits for a message with the text and one attachment, then
// downloads it and compares it with the file sent.
func wantPhoto(t *testing.T, d *clienttest.Device, conv, body, path string) {
	t.Helper()
	ms := d.WaitMessages(conv, "the photo", func(ms []client.Message) bool {
		return slices.ContainsFunc(ms, func(m client.Message) bool { return string(m.Body) == body && len(m.Attachments) == 1 })
	})
	i := slices.IndexFunc(ms, func(m client.Message) bool { return string(m.Body) == body })
	got, err := d.Download(context.Background(), ms[i].Attachments[0], "")
	if err != nil {
		t.Fatalf("%s: download: %v", d.Acct.DeviceID, err)
	}
	a, _ := os.ReadFile(got)
	b, _ := os.ReadFile(path)
	if !bytes.Equal(a, b) {
		t.Fatalf("%s: the photo downloaded differs (%d bytes, want %d)", d.Acct.DeviceID, len(a), len(b))
	}
}

// call makes an API request with d's token and checks the status.
func call(t *testing.T, d *clienttest.Device, method, path string, body any, status int) {
	t.Helper()
	var in io.Reader
	if method != http.MethodGet && body != nil {
		b, _ := json.Marshal(body)
		in = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, d.Acct.URL+path, in)
	req.Header.Set("Authorization", "Bearer "+d.Acct.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %s %s, want %d", method, path, resp.Status, b, status)
	}
	if method == http.MethodGet && body != nil {
		if err := json.NewDecoder(resp.Body).Decode(body); err != nil {
			t.Fatal(err)
		}
	}
}

// watchPubSub records every pub/sub payload on the Redis server from now
// on (channels are server-wide, so other tests' traffic is seen too; it
// cannot hold this test's marker).
func watchPubSub(t *testing.T, url string) func() []byte {
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	ps := rdb.PSubscribe(context.Background(), "*")
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatalf("psubscribe: %v", err)
	}
	var mu sync.Mutex
	var seen bytes.Buffer
	go func() {
		for m := range ps.Channel() {
			mu.Lock()
			seen.WriteString(m.Channel + " " + m.Payload + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ps.Close()
		rdb.Close()
	})
	return func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(seen.Bytes())
	}
}

// scanPostgres reads every row of every table of the cluster's schema as
// text (bytea shows as hex).
func scanPostgres(t *testing.T, srv *testserver.Cluster, found func(string, []byte)) {
	ctx := context.Background()
	rows, err := srv.DB.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE'`, srv.DB.Schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 10 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	rowsSeen := 0
	for _, table := range tables {
		name := pgx.Identifier{srv.DB.Schema, table}.Sanitize()
		rows, err := srv.DB.Pool.Query(ctx, `SELECT t::text FROM `+name+` t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		rowsSeen += len(texts)
		found("table "+table, []byte(strings.Join(texts, "\n")))
	}
	if rowsSeen == 0 {
		t.Fatal("no rows in the schema: the scan looked in the wrong place")
	}
}

// scanS3 reads every object of the cluster's bucket.
func scanS3(t *testing.T, srv *testserver.Cluster, found func(string, []byte)) {
	ctx := context.Background()
	mc, err := minio.New(strings.TrimPrefix(strings.TrimPrefix(srv.S3.Endpoint, "http://"), "https://"), &minio.Options{
		Creds: credentials.NewStaticV4(srv.S3.AccessKey, srv.S3.SecretKey, ""), Region: srv.S3.Region})
	if err != nil {
		t.Fatal(err)
	}
	objects := 0
	for o := range mc.ListObjects(ctx, srv.S3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		r, err := mc.GetObject(ctx, srv.S3.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		objects++
		found("object "+o.Key, append([]byte(o.Key+"\n"), b...))
	}
	if objects < 2 {
		t.Fatalf("%d objects in the bucket: the two photos should be there", objects)
	}
}

// scanRedis reads every key of the cluster's Redis database, whatever
// its type.
func scanRedis(t *testing.T, url string, found func(string, []byte)) {
	ctx := context.Background()
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var v any
		switch typ, _ := rdb.Type(ctx, k).Result(); typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = rdb.ZRange(ctx, k, 0, -1).Result()
		case "stream":
			v, err = rdb.XRange(ctx, k, "-", "+").Result()
		}
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		found("redis key "+k, fmt.Appendf(nil, "%s %v", k, v))
	}
}
