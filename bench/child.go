package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/s3"
)

// benchChild is a process a bench started: `courier serve` or the bare
// echo server. A child of its own, so its RSS is its own.
type benchChild struct {
	cmd  *exec.Cmd
	URL  string
	done chan struct{}
	err  error

	mu   sync.Mutex
	tail []string // last lines of stderr, for error messages
}

// startBenchChild runs bin with args and waits until url+"/readyz" (or, for
// a server without it, a TCP connect to addr) answers.
func startBenchChild(ctx context.Context, bin, addr, readyPath string, args ...string) (*benchChild, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	c := &benchChild{cmd: cmd, URL: "http://" + addr, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			c.mu.Lock()
			if c.tail = append(c.tail, sc.Text()); len(c.tail) > 20 {
				c.tail = c.tail[1:]
			}
			c.mu.Unlock()
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if readyPath == "" {
			if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				conn.Close()
				return c, nil
			}
		} else if resp, err := http.Get(c.URL + readyPath); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("%s exited: %v\n%s", args[0], c.err, c.Tail())
		case <-ctx.Done():
			c.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.Stop()
	return nil, fmt.Errorf("%s not ready after 60s\n%s", args[0], c.Tail())
}

// startServe runs `courier serve` on a free loopback port with the
// settings every bench node has (open sign-up, quiet logs, the bench's
// object store) and more flags; the rest of its configuration comes from
// the COURIER_* environment it inherits, as the bench's own does.
func startServe(ctx context.Context, bin string, store s3.Config, flags ...string) (*benchChild, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "-http-addr=" + addr, "-open-signup=true", "-log-level=warn",
		"-upload-temp-dir=" + os.TempDir(), "-s3-endpoint=" + store.Endpoint, "-s3-region=" + store.Region,
		"-s3-access-key=" + store.AccessKey, "-s3-secret-key=" + store.SecretKey, "-s3-bucket=" + store.Bucket,
		"-s3-path-style=" + strconv.FormatBool(store.PathStyle)}, flags...)
	return startBenchChild(ctx, bin, addr, "/readyz", args...)
}

// Tail returns the last lines the child wrote to stderr.
func (c *benchChild) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// PID is the child's process ID.
func (c *benchChild) PID() int { return c.cmd.Process.Pid }

// Stop asks the child to shut down (SIGTERM) and kills it after 10 s.
func (c *benchChild) Stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// processRSS reads VmRSS of pid from /proc, in bytes.
func processRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// processCPU reads the user+system CPU time pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; fields count from after its ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// raiseFDLimit lifts the soft open-files limit to the hard one: 10,000
// sockets need more than the usual 1024. Children inherit it.
func raiseFDLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, err
		}
	}
	return l.Cur, nil
}

// benchSchema is a scratch schema a bench creates, migrates and drops.
type benchSchema struct {
	Name string
	URL  string // the database URL with search_path set to the schema
	Pool *pgxpool.Pool
	drop func()
}

// newBenchSchema creates a fresh schema in the database at dbURL and
// applies the migrations to it.
func newBenchSchema(ctx context.Context, dbURL string, conns int32) (*benchSchema, error) {
	name := "bench_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(courier.NewID())[:10])
	admin, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 2})
	if err != nil {
		return nil, err
	}
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create schema %s: %w", name, err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		admin.Close()
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	s := &benchSchema{Name: name, URL: u.String()}
	s.drop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`)
		admin.Close()
	}
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Schema: name, MaxConns: conns})
	if err == nil {
		_, err = migrations.Up(ctx, pool)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		s.drop()
		return nil, errors.Join(fmt.Errorf("schema %s", name), err)
	}
	s.Pool = pool
	return s, nil
}

// Drop closes the schema's pool and drops it with everything in it.
func (s *benchSchema) Drop() {
	s.Pool.Close()
	s.drop()
}
