package upload_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
	redisadapter "github.com/courier-chat/courier/redis"
	"github.com/courier-chat/courier/s3"
	"github.com/courier-chat/courier/upload"
	"github.com/courier-chat/courier/upload/redislock"
	"github.com/courier-chat/courier/worker"
)

// env is one test's share of the real services: a schema, a Redis prefix
// (and a Redis database for the job queue, whose keys asynq fixes), and a
// bucket. Nodes built on one env are API nodes behind a load balancer:
// each has its own handler, s3store and locker, and they share the rest.
type env struct {
	db       *testenv.DB
	rdb      *redis.Client
	prefix   string
	s3       *s3.Client
	s3cfg    s3.Config
	queue    *asynq.Client
	queueRDB *redis.Client
	blobs    *postgres.BlobStore
	accounts *postgres.AccountService
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, testenv.S3Servers()[0].Endpoint)
}

// newEnvOn is newEnv with its bucket on the S3 server at endpoint.
func newEnvOn(t *testing.T, s3Endpoint string) *env {
	t.Helper()
	e := &env{db: testenv.NewDB(t)}
	e.rdb, e.prefix = testenv.NewRedis(t)
	e.s3, e.s3cfg = testenv.NewS3On(t, s3Endpoint)
	opt, err := redis.ParseURL(testenv.NewRedisDB(t))
	if err != nil {
		t.Fatal(err)
	}
	e.queueRDB = redis.NewClient(opt)
	e.queue = asynq.NewClientFromRedisClient(e.queueRDB)
	t.Cleanup(func() { e.queue.Close(); e.queueRDB.Close() })
	e.blobs = postgres.NewBlobStore(e.db.Pool)
	e.accounts = postgres.NewAccountService(e.db.Pool)
	return e
}

// node is one API node serving /v1/uploads/ over real HTTP.
type node struct {
	URL string
	h   *upload.Handler
	srv *httptest.Server
}

// newNode starts a node. cfg's zero fields take the package defaults,
// except a short expiry and network timeout that suit tests.
func (e *env) newNode(t *testing.T, cfg upload.Config, mods ...func(*upload.Deps)) *node {
	t.Helper()
	if cfg.NetworkTimeout == 0 {
		cfg.NetworkTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	locker := redislock.New(e.rdb, redislock.Config{Prefix: e.prefix + "lock:", Logger: cfg.Logger})
	deps := upload.Deps{
		Uploads: e.uploads(), Leases: e.leases(), S3: e.s3cfg, Objects: e.s3, Blobs: e.blobs,
		Jobs: worker.BlobJobs{Queue: e.queue}, Locker: locker,
	}
	for _, mod := range mods {
		mod(&deps)
	}
	h, err := upload.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	authed := authenticate(e.accounts, h)
	mux.Handle("/v1/uploads/", authed)
	mux.Handle("/v1/uploads", authed)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); locker.Close() })
	return &node{URL: srv.URL, h: h, srv: srv}
}

// authenticate puts the bearer token's device in the context, as the API's
// middleware does; OPTIONS passes without one (CORS preflights).
func authenticate(accounts *postgres.AccountService, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok {
			d, err := accounts.Authenticate(r.Context(), token)
			if err != nil {
				http.Error(w, `{"error":{"code":"unauthorized","message":"bad token"}}`, http.StatusUnauthorized)
				return
			}
			r = r.WithContext(courier.NewContextWithDevice(r.Context(), d))
		}
		next.ServeHTTP(w, r)
	})
}

func (e *env) uploads() *postgres.UploadStore { return postgres.NewUploadStore(e.db.Pool) }

func (e *env) leases() *redisadapter.Leases { return redisadapter.NewLeases(e.rdb, e.prefix+"lease:") }

// state returns an upload's state in the uploads table.
func (e *env) state(t *testing.T, id string) courier.UploadState {
	t.Helper()
	u, err := e.uploads().Upload(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.State
}

// user creates an account and returns its device token.
func (e *env) user(t *testing.T, name string) string {
	t.Helper()
	_, _, token, err := e.accounts.CreateAccount(context.Background(), name, "phone")
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// stored returns the bytes of a finished upload, read from the bucket.
func (e *env) stored(t *testing.T, id string) []byte {
	t.Helper()
	r, err := e.s3.Get(context.Background(), upload.StorageKey(id), 0, 0)
	if err != nil {
		t.Fatalf("blob %s in the bucket: %v", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blob returns the blob row of a finished upload.
func (e *env) blob(t *testing.T, id string) *courier.Blob {
	t.Helper()
	b, err := e.blobs.Blob(context.Background(), id)
	if err != nil {
		t.Fatalf("blob %s: %v", id, err)
	}
	return b
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is the handler configuration most tests use.
func testConfig() upload.Config {
	return upload.Config{TempDir: ""}
}
