// Package testserver runs real Courier nodes for the tests of packages
// that talk to Courier as a client does (client, conformance): the courier
// binary, built once per test binary, started as child processes on
// loopback ports against the shared services, with a fresh schema, Redis
// database and bucket per cluster.
package testserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/s3"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the path of a courier binary built from this checkout.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "courier-testserver")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "courier")
		out, err := exec.Command("go", "build", "-o", buildPath, "github.com/courier-chat/courier/cmd/courier").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Cluster is Courier nodes sharing one schema, Redis database and bucket:
// the first runs `courier dev` (API and media worker), the others `serve`.
type Cluster struct {
	Nodes []*Node
	// What the nodes store in, for tests that look at it directly.
	DB       *testenv.DB
	RedisURL string
	S3       s3.Config
	env      []string
}

// Node is one courier process.
type Node struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	logs strings.Builder
}

// Options tune a cluster. Zero values take Courier's defaults.
type Options struct {
	Nodes       int      // 1 by default
	MessageRate int      // -message-rate and -message-burst
	Env         []string // more COURIER_* settings
}

// Start starts a cluster and stops it when t ends.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	db := testenv.NewDB(t)
	_, s3cfg := testenv.NewS3(t)
	redisURL := testenv.NewRedisDB(t)
	env := append(os.Environ(),
		"COURIER_DATABASE_URL="+db.URL+"&search_path="+db.Schema,
		"COURIER_REDIS_URL="+redisURL,
		"COURIER_S3_ENDPOINT="+s3cfg.Endpoint, "COURIER_S3_BUCKET="+s3cfg.Bucket,
		"COURIER_S3_ACCESS_KEY="+s3cfg.AccessKey, "COURIER_S3_SECRET_KEY="+s3cfg.SecretKey,
		"COURIER_OPEN_SIGNUP=true", "COURIER_AUTO_MIGRATE=true", "COURIER_LOG_LEVEL=warn",
		"COURIER_METRICS_ADDR=", "COURIER_SHUTDOWN_TIMEOUT=2s",
		"COURIER_UPLOAD_TEMP_DIR="+t.TempDir(), "COURIER_WORKER_CONCURRENCY=2",
	)
	if o.MessageRate > 0 {
		env = append(env, fmt.Sprintf("COURIER_MESSAGE_RATE=%d", o.MessageRate), fmt.Sprintf("COURIER_MESSAGE_BURST=%d", o.MessageRate))
	}
	c := &Cluster{DB: db, RedisURL: redisURL, S3: s3cfg, env: append(env, o.Env...)}
	for i := range o.Nodes {
		mode := "serve"
		if i == 0 {
			mode = "dev"
		}
		c.Nodes = append(c.Nodes, c.start(t, mode, freeAddr(t)))
	}
	return c
}

// URL is the first node's URL.
func (c *Cluster) URL() string { return c.Nodes[0].URL }

// Restart starts node i again on its address after Kill.
func (c *Cluster) Restart(t testing.TB, i int) {
	mode := "serve"
	if i == 0 {
		mode = "dev"
	}
	c.Nodes[i] = c.start(t, mode, c.Nodes[i].Addr)
}

func (c *Cluster) start(t testing.TB, mode, addr string) *Node {
	t.Helper()
	cmd := exec.Command(Binary(t), mode)
	cmd.Env = append(c.env, "COURIER_HTTP_ADDR="+addr)
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &Node{URL: "http://" + addr, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.mu.Lock()
			n.logs.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
		}
		cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(n.Kill)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		if resp, err := http.Get(n.URL + "/readyz"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("courier %s exited at start:\n%s", mode, n.Logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("courier %s not ready after 60 s:\n%s", mode, n.Logs())
	return nil
}

// Logs returns what the node wrote to stderr.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// Kill ends the node at once (SIGKILL) and waits for it.
func (n *Node) Kill() {
	n.cmd.Process.Signal(syscall.SIGKILL)
	<-n.done
}

// Stop ends the node with SIGTERM (it closes sockets with 1001) and waits.
func (n *Node) Stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.Kill()
	}
}

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
