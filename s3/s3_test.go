package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/faultnet"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/s3"
)

func TestClient_PutGetRangeRemove(t *testing.T) {
	c, _ := testenv.NewS3(t)
	ctx := context.Background()
	data := []byte(strings.Repeat("0123456789", 1000))
	if _, err := c.Put(ctx, "blobs/a", bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stat(ctx, "blobs/a")
	if err != nil {
		t.Fatal(err)
	} else if st.Size != int64(len(data)) || st.ETag == "" || st.ContentType != "text/plain" {
		t.Fatalf("stat = %+v", st)
	}
	for _, tc := range []struct{ off, n int64 }{{0, 0}, {5, 10}, {9990, 10}} {
		rc, err := c.Get(ctx, "blobs/a", tc.off, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		want := data[tc.off:]
		if tc.n > 0 {
			want = data[tc.off : tc.off+tc.n]
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("range %d+%d: got %d bytes", tc.off, tc.n, len(got))
		}
	}
	if err := c.Remove(ctx, "blobs/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "blobs/a", 0, 0); courier.ErrorCode(err) != courier.ENOTFOUND {
		t.Fatalf("get after remove: %v", err)
	}
	if _, err := c.Stat(ctx, "blobs/a"); courier.ErrorCode(err) != courier.ENOTFOUND {
		t.Fatalf("stat after remove: %v", err)
	}
}

func TestClient_EnsureBucketIdempotent(t *testing.T) {
	_, cfg := testenv.NewS3(t)
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := c.EnsureBucket(context.Background()); err != nil {
			t.Fatalf("ensure #%d: %v", i, err)
		}
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestClient_WrongCredentialsNameBucket(t *testing.T) {
	cfg := testenv.S3Config(testenv.Name("nope"))
	cfg.SecretKey = "wrong-secret"
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.EnsureBucket(context.Background())
	if err == nil || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Fatalf("EnsureBucket with wrong secret: %v (want an error naming %q)", err, cfg.Bucket)
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  s3.Config
	}{
		{"no scheme", s3.Config{Endpoint: "127.0.0.1:7070", Bucket: "b", AccessKey: "a", SecretKey: "s"}},
		{"no bucket", s3.Config{Endpoint: "http://127.0.0.1:7070", AccessKey: "a", SecretKey: "s"}},
		{"no keys", s3.Config{Endpoint: "http://127.0.0.1:7070", Bucket: "b"}},
	} {
		if err := tc.cfg.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil", tc.name)
		}
	}
}

// TestClient_OutageIsUnavailable: with the S3 service unreachable, object
// operations answer unavailable (with a retry time), and a missing object
// is still not found once it is back.
func TestClient_OutageIsUnavailable(t *testing.T) {
	_, cfg := testenv.NewS3(t)
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultnet.Listen(t, u.Host)
	cfg.Endpoint = "http://" + proxy.Addr()
	c, err := s3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for name, call := range map[string]func() error{
		"stat": func() error { _, err := c.Stat(ctx, "k"); return err },
		"get":  func() error { _, err := c.Get(ctx, "k", 0, 0); return err },
		"ping": func() error { return c.Ping(ctx) },
	} {
		if err := call(); courier.ErrorCode(err) != courier.EUNAVAILABLE || courier.ErrorRetryAfter(err) <= 0 {
			t.Errorf("%s during an outage: %v, want %s", name, err, courier.EUNAVAILABLE)
		}
	}
	proxy.Restore()
	if _, err := c.Stat(context.Background(), "missing"); courier.ErrorCode(err) != courier.ENOTFOUND {
		t.Fatalf("after the outage: %v, want %s", err, courier.ENOTFOUND)
	}
}
