package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier/internal/testenv"
)

// testProcess runs a Courier process in-process on a loopback port against
// the real services, with its own schema and bucket.
type testProcess struct {
	*Main
	URL string
}

// testConfig returns a dev configuration on the test services: a fresh
// schema and bucket, a random port.
func testConfig(t *testing.T) Config {
	t.Helper()
	db := testenv.NewDB(t)
	_, s3cfg := testenv.NewS3(t)
	c, _, err := parseConfig("test", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c.HTTPAddr = "127.0.0.1:0"
	c.DatabaseURL = db.URL + "&search_path=" + db.Schema
	c.RedisURL = testenv.RedisURL()
	c.S3 = s3cfg
	c.LogLevel = "warn"
	c.ShutdownTimeout = 5 * time.Second
	c.UploadTempDir = t.TempDir()
	c.MetricsAddr = "127.0.0.1:0" // workers side by side must not share :9091
	return c
}

// startProcess starts a process in the given mode with cfg.
func startProcess(t *testing.T, mode string, cfg Config) *testProcess {
	t.Helper()
	m := NewMain(mode)
	m.Config = cfg
	if mode == "dev" {
		m.Config.OpenSignup, m.Config.AutoMigrate = true, true
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("start %s: %v", mode, err)
	}
	t.Cleanup(func() { m.Close() })
	p := &testProcess{Main: m}
	if m.API != nil {
		p.URL = "http://" + m.API.Addr().String()
	}
	return p
}

// do sends a request with an optional bearer token and JSON body, and
// decodes a JSON answer into out when out is not nil.
func do(t *testing.T, method, url, token string, body any, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp
}

type account struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Token    string `json:"token"`
}

func createAccount(t *testing.T, p *testProcess, name string) account {
	t.Helper()
	var a account
	resp := do(t, "POST", p.URL+"/v1/accounts", "", map[string]string{"name": name, "device_name": "phone"}, &a)
	if resp.StatusCode != http.StatusCreated || a.Token == "" {
		t.Fatalf("create account: %d %+v", resp.StatusCode, a)
	}
	return a
}

type errorBody struct {
	Error struct{ Code, Message string } `json:"error"`
}

func TestEndToEnd_AccountsAndTokens(t *testing.T) {
	p := startProcess(t, "dev", testConfig(t))
	alice := createAccount(t, p, "alice")

	var list struct {
		Devices []struct {
			ID string `json:"device_id"`
		} `json:"devices"`
	}
	if resp := do(t, "GET", p.URL+"/v1/devices", alice.Token, nil, &list); resp.StatusCode != 200 {
		t.Fatalf("list devices: %d", resp.StatusCode)
	}
	if len(list.Devices) != 1 || list.Devices[0].ID != alice.DeviceID {
		t.Fatalf("devices = %+v, want only %s", list.Devices, alice.DeviceID)
	}

	// A second device; then revoke it and its token stops working at once.
	var tablet account
	if resp := do(t, "POST", p.URL+"/v1/devices", alice.Token, map[string]string{"name": "tablet"}, &tablet); resp.StatusCode != 201 {
		t.Fatalf("add device: %d", resp.StatusCode)
	}
	if resp := do(t, "GET", p.URL+"/v1/devices", tablet.Token, nil, &list); resp.StatusCode != 200 || len(list.Devices) != 2 {
		t.Fatalf("list with new device: %d %+v", resp.StatusCode, list)
	}
	if resp := do(t, "DELETE", p.URL+"/v1/devices/"+tablet.DeviceID, alice.Token, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}

	for _, tc := range []struct{ name, token string }{
		{"missing", ""},
		{"wrong", "not-a-real-token"},
		{"revoked", tablet.Token},
		{"other scheme", ""},
	} {
		var e errorBody
		resp := do(t, "GET", p.URL+"/v1/devices", tc.token, nil, &e)
		if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != "unauthorized" {
			t.Errorf("%s token: %d %+v, want 401 unauthorized", tc.name, resp.StatusCode, e)
		}
	}

	// Bob cannot revoke Alice's device: it is not his, so it is not found.
	bob := createAccount(t, p, "bob")
	if resp := do(t, "DELETE", p.URL+"/v1/devices/"+alice.DeviceID, bob.Token, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("bob revokes alice's device: %d, want 404", resp.StatusCode)
	}
}

func TestEndToEnd_SignupNeedsAdminSecretOutsideDev(t *testing.T) {
	cfg := testConfig(t)
	cfg.AdminSecret = "s3cret-admin"
	cfg.AutoMigrate = true
	p := startProcess(t, "serve", cfg)

	body := map[string]string{"name": "carol"}
	if resp := do(t, "POST", p.URL+"/v1/accounts", "", body, nil); resp.StatusCode != 401 {
		t.Fatalf("signup without secret: %d, want 401", resp.StatusCode)
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", p.URL+"/v1/accounts", bytes.NewReader(b))
	req.Header.Set("X-Courier-Admin-Secret", "s3cret-admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("signup with secret: %d, want 201", resp.StatusCode)
	}
}

func TestEndToEnd_HealthReadyMetrics(t *testing.T) {
	p := startProcess(t, "dev", testConfig(t))
	if resp := do(t, "GET", p.URL+"/healthz", "", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	var ready struct {
		Status string
		Checks map[string]struct{ Status string }
	}
	if resp := do(t, "GET", p.URL+"/readyz", "", nil, &ready); resp.StatusCode != 200 || len(ready.Checks) != 3 {
		t.Fatalf("readyz: %d %+v", resp.StatusCode, ready)
	}
	do(t, "GET", p.URL+"/v1/devices", "", nil, nil)
	req, _ := http.NewRequest("GET", p.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`courier_http_requests_total{method="GET",route="GET /v1/devices",status="401"} 1`,
		"courier_http_request_duration_seconds_bucket",
		"courier_db_pool_max_conns",
		"courier_ws_connections 0",
		"go_goroutines",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A request ID comes back on every response.
	if r := do(t, "GET", p.URL+"/healthz", "", nil, nil); r.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID")
	}
}

func TestEndToEnd_ReadyzNamesWhatIsDown(t *testing.T) {
	cfg := testConfig(t)
	p := startProcess(t, "dev", cfg)
	// Take S3 away by pointing readiness at a bucket that does not exist.
	p.S3.Minio().RemoveBucket(context.Background(), cfg.S3.Bucket)
	var ready struct {
		Status string
		Down   []string
	}
	resp := do(t, "GET", p.URL+"/readyz", "", nil, &ready)
	if resp.StatusCode != 503 || len(ready.Down) != 1 || ready.Down[0] != "s3" {
		t.Fatalf("readyz with S3 bucket gone: %d %+v", resp.StatusCode, ready)
	}
}

func TestConfig_ErrorsNameTheSetting(t *testing.T) {
	t.Setenv("COURIER_WORKER_CONCURRENCY", "many")
	_, _, err := parseConfig("serve", nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "COURIER_WORKER_CONCURRENCY") {
		t.Fatalf("bad env: %v", err)
	}
	os.Unsetenv("COURIER_WORKER_CONCURRENCY")
	_, _, err = parseConfig("serve", []string{"-redis-url", "http://x"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "redis-url") {
		t.Fatalf("bad flag: %v", err)
	}

	// A node that must migrate first cannot start without its database,
	// and says which one it tried. (Without -auto-migrate it starts and
	// waits for the database; see TestServe_StartsWithDatabaseDown.)
	cfg := testConfig(t)
	cfg.AutoMigrate = true
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/courier?sslmode=disable"
	m := NewMain("serve")
	m.Config = cfg
	err = m.Run(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable postgres: %v (want the address named)", err)
	}
}

// A node started while its database is down comes up, says so on /readyz,
// and answers API calls that need the database with 503 unavailable.
func TestServe_StartsWithDatabaseDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.DatabaseURL = "postgres://postgres@127.0.0.1:1/courier?sslmode=disable"
	p := startProcess(t, "serve", cfg)
	var ready struct{ Down []string }
	if resp := do(t, "GET", p.URL+"/readyz", "", nil, &ready); resp.StatusCode != 503 || len(ready.Down) != 1 || ready.Down[0] != "postgres" {
		t.Fatalf("readyz with the database down: %d %+v", resp.StatusCode, ready)
	}
	var e struct{ Error struct{ Code string } }
	resp := do(t, "GET", p.URL+"/v1/devices", "some-token", nil, &e)
	if resp.StatusCode != 503 || e.Error.Code != "unavailable" {
		t.Fatalf("an API call with the database down: %d %+v, want 503 unavailable", resp.StatusCode, e)
	}
}
