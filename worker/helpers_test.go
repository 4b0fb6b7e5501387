package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/inmem"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/s3"
)

// mediaEnv is one test's slice of the real services with a MediaHandler
// over them. Events go to the in-memory twin of the Redis bus, so a test
// can count them; TestMedia_AsynqFlow uses the Redis bus itself.
type mediaEnv struct {
	t       *testing.T
	db      *pgxpool.Pool
	blobs   *postgres.BlobStore
	objects *s3.Client
	handler *MediaHandler
	queue   *asynq.Client
	redis   string // URL of the test's own Redis database
	owner   string

	mu     sync.Mutex
	events []courier.Event
}

func newMediaEnv(t *testing.T, cfg MediaConfig) *mediaEnv {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required (apt-get install ffmpeg): %v", tool, err)
		}
	}
	db := testenv.NewDB(t)
	objects, _ := testenv.NewS3(t)
	e := &mediaEnv{t: t, db: db.Pool, blobs: postgres.NewBlobStore(db.Pool), objects: objects, redis: testenv.NewRedisDB(t)}
	opt, err := asynq.ParseRedisURI(e.redis)
	if err != nil {
		t.Fatal(err)
	}
	e.queue = asynq.NewClient(opt)
	t.Cleanup(func() { e.queue.Close() })

	user, _, _, err := postgres.NewAccountService(db.Pool).CreateAccount(context.Background(), "owner", "phone")
	if err != nil {
		t.Fatal(err)
	}
	e.owner = user.ID
	bus := inmem.NewEventBus()
	bus.Handle(func(_ string, ev courier.Event) {
		e.mu.Lock()
		e.events = append(e.events, ev)
		e.mu.Unlock()
	})
	if err := bus.Subscribe(context.Background(), courier.UserTopic(e.owner)); err != nil {
		t.Fatal(err)
	}
	cfg.TempDir = t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.handler = NewMediaHandler(objects, e.blobs, bus, e.queue, cfg)
	return e
}

// upload stores data as a finished upload would: the original in the
// bucket and a processing row.
func (e *mediaEnv) upload(data []byte, contentType string, mode courier.BlobMode) *courier.Blob {
	e.t.Helper()
	ctx := context.Background()
	b := &courier.Blob{ID: courier.NewID(), OwnerID: e.owner, Mode: mode, State: courier.BlobProcessing,
		Size: int64(len(data)), ContentType: contentType, Filename: "file", StorageKey: "uploads/" + courier.NewID()}
	if _, err := e.objects.Put(ctx, b.StorageKey, bytes.NewReader(data), b.Size, contentType); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.blobs.CreateBlob(ctx, b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

// run runs one job of type typ for the blob, as asynq would.
func (e *mediaEnv) run(typ, blobID string) error {
	payload, _ := json.Marshal(ProcessBlobPayload{BlobID: blobID})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.handler.ProcessTask(ctx, asynq.NewTask(typ, payload))
}

func (e *mediaEnv) blob(id string) *courier.Blob {
	e.t.Helper()
	b, err := e.blobs.Blob(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// variant downloads a variant's bytes.
func (e *mediaEnv) variant(b *courier.Blob, name string) []byte {
	e.t.Helper()
	v := b.Variant(name)
	if v == nil {
		e.t.Fatalf("blob has no %s variant: %+v", name, b.Variants)
	}
	r, err := e.objects.Get(context.Background(), v.Key, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		e.t.Fatal(err)
	}
	if int64(len(data)) != v.Size {
		e.t.Fatalf("%s: %d bytes stored, row says %d", name, len(data), v.Size)
	}
	return data
}

// eventTypes lists the types of the events published so far.
func (e *mediaEnv) eventTypes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		out = append(out, ev.Type)
	}
	return out
}

// Quadrant colours of the displayed test picture: red top-left, green
// top-right, blue bottom-left, white bottom-right, so any wrong rotation
// or mirror shows as a wrong colour in a corner.
var quadColors = [2][2]color.NRGBA{{{255, 0, 0, 255}, {0, 255, 0, 255}}, {{0, 0, 255, 255}, {255, 255, 255, 255}}}

// quadrants returns the displayed picture, w×h.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, quadColors[y*2/h][x*2/w])
		}
	}
	return img
}

// checkQuadrants asserts img shows the quadrant picture upright.
func checkQuadrants(t *testing.T, name string, img image.Image) {
	t.Helper()
	b := img.Bounds()
	for qy := range 2 {
		for qx := range 2 {
			x, y := b.Min.X+b.Dx()*(2*qx+1)/4, b.Min.Y+b.Dy()*(2*qy+1)/4
			got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			want := quadColors[qy][qx]
			d := func(a, b uint8) bool { return int(a)-int(b) > 40 || int(b)-int(a) > 40 }
			if d(got.R, want.R) || d(got.G, want.G) || d(got.B, want.B) {
				t.Errorf("%s: quadrant (%d,%d) is %v, want %v", name, qx, qy, got, want)
			}
		}
	}
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ffmpegMake runs ffmpeg with args (the output file name last, relative
// to a temp dir) and returns the file's bytes. In args, {in} is replaced by
// the path of in written to a file, for conversions.
func ffmpegMake(t testing.TB, in []byte, args string) []byte {
	t.Helper()
	dir := t.TempDir()
	fields := strings.Fields(args)
	for i, f := range fields {
		if f == "{in}" {
			p := filepath.Join(dir, "in")
			if err := os.WriteFile(p, in, 0o600); err != nil {
				t.Fatal(err)
			}
			fields[i] = p
		}
	}
	out := filepath.Join(dir, fields[len(fields)-1])
	fields[len(fields)-1] = out
	cmd := exec.Command("ffmpeg", append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, fields...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
