// Package teststack runs a test's own copies of Courier's dependencies —
// Redis, a PostgreSQL cluster and the S3 server versitygw — as child
// processes on spare loopback ports, so a fault test can stop, kill and
// restart them without touching the services other tests share.
//
// Ports come from COURIER_TEST_STACK_PORTS (default 17000-17099): each
// service takes the first port of the range nobody listens on, and keeps
// it across restarts. PostgreSQL refuses to run as root, so under root
// its cluster belongs to, and runs as, the postgres user.
package teststack

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/courier-chat/courier/internal/testenv"
)

// Service is one dependency process. Stop, Kill and Start may be called
// in any order; Start after a stop runs it again on the same port with
// the same data.
type Service struct {
	Name string
	Addr string // 127.0.0.1:port

	t     testing.TB
	argv  func() *exec.Cmd
	ready func(ctx context.Context) error

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs strings.Builder
}

// Start runs the service and waits until it answers (30 s at most).
func (s *Service) Start() {
	s.t.Helper()
	cmd := s.argv()
	out, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatalf("teststack: %s: %v", s.Name, err)
	}
	cmd.Stdout = cmd.Stderr // one pipe for both
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("teststack: start %s: %v", s.Name, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			if s.logs.Len() < 1<<20 {
				s.logs.WriteString(sc.Text() + "\n")
			}
			s.mu.Unlock()
		}
		cmd.Wait()
		close(done)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := s.ready(ctx)
		if err == nil {
			return
		}
		select {
		case <-done:
			s.t.Fatalf("teststack: %s exited at start:\n%s", s.Name, s.Logs())
		case <-ctx.Done():
			s.t.Fatalf("teststack: %s not ready after 30 s: %v\n%s", s.Name, err, s.Logs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends sig (SIGTERM: a clean stop; SIGKILL: a crash) and waits for
// the process to end.
func (s *Service) Stop(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Logs returns what the service wrote, for a failing test's message.
func (s *Service) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Stack is one Redis, one PostgreSQL cluster and one S3 server.
type Stack struct {
	Redis, Postgres, S3 *Service

	RedisURL    string
	DatabaseURL string
	S3Endpoint  string
}

// Start starts the three services and stops them when t ends. It fails
// the test loudly when a binary is missing (scripts/services.sh installs
// them all).
func Start(t testing.TB) *Stack {
	t.Helper()
	ports := newPorts(t)
	st := &Stack{}
	st.Redis = startRedis(t, ports.next())
	st.Postgres = startPostgres(t, ports.next())
	st.S3 = startVersitygw(t, ports.next())
	st.RedisURL = "redis://" + st.Redis.Addr + "/0"
	st.DatabaseURL = "postgres://postgres@" + st.Postgres.Addr + "/postgres?sslmode=disable"
	st.S3Endpoint = "http://" + st.S3.Addr
	return st
}

// NextAddr returns a spare loopback address in the stack's port range,
// for the Courier nodes a test runs beside the stack.
func NextAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(newPorts(t).next())
}

func newService(t testing.TB, name string, port int, argv func() *exec.Cmd, ready func(ctx context.Context) error) *Service {
	s := &Service{Name: name, Addr: "127.0.0.1:" + strconv.Itoa(port), t: t, argv: argv, ready: ready}
	s.Start()
	t.Cleanup(func() { s.Stop(syscall.SIGKILL) })
	return s
}

func startRedis(t testing.TB, port int) *Service {
	bin := lookPath(t, "redis-server", "redis-server")
	dir := t.TempDir()
	argv := func() *exec.Cmd {
		return exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--appendonly", "no", "--dir", dir)
	}
	return newService(t, "redis", port, argv, func(ctx context.Context) error {
		return exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "ping").Run()
	})
}

// startPostgres creates a throwaway cluster with initdb (trust auth, no
// fsync: a crash of the test machine loses nothing anyone wants) and runs
// postgres in the foreground, so a signal reaches the postmaster itself.
func startPostgres(t testing.TB, port int) *Service {
	bindir := postgresBin(t)
	dir, err := os.MkdirTemp("", "courier-teststack-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cred := postgresCredential(t, dir)
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("teststack: initdb: %v\n%s", err, out)
	}
	argv := func() *exec.Cmd {
		cmd := exec.Command(filepath.Join(bindir, "postgres"), "-D", data, "-p", strconv.Itoa(port),
			"-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	return newService(t, "postgres", port, argv, func(ctx context.Context) error {
		return exec.CommandContext(ctx, filepath.Join(bindir, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port)).Run()
	})
}

// postgresBin finds the newest installed PostgreSQL's binaries
// (Debian keeps them under /usr/lib/postgresql/VERSION/bin).
func postgresBin(t testing.TB) string {
	if dir := os.Getenv("COURIER_TEST_PG_BIN"); dir != "" {
		return dir
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVersion := "", -1
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > bestVersion {
			best, bestVersion = filepath.Dir(m), v
		}
	}
	if best != "" {
		return best
	}
	return filepath.Dir(lookPath(t, "initdb", "postgresql"))
}

// postgresCredential returns who runs the cluster: nobody else when the
// test is not root, the postgres user (owning dir) when it is.
func postgresCredential(t testing.TB, dir string) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("teststack: PostgreSQL refuses to run as root and there is no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// startVersitygw runs the S3 server scripts/services.sh builds into its
// cache folder.
func startVersitygw(t testing.TB, port int) *Service {
	bin := filepath.Join(testenv.Env(filepath.Join(os.Getenv("HOME"), ".cache", "courier"), "COURIER_CACHE"), "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		bin = lookPath(t, "versitygw", "versitygw (run `make services`)")
	}
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	argv := func() *exec.Cmd {
		cmd := exec.Command(bin, "--port", addr, "posix", dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+testenv.DefaultS3AccessKey, "ROOT_SECRET_KEY="+testenv.DefaultS3SecretKey)
		return cmd
	}
	return newService(t, "s3", port, argv, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func lookPath(t testing.TB, name, pkg string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("teststack: %s not found (install %s; scripts/services.sh does): %v", name, pkg, err)
	}
	return p
}

// ports hands out the free ports of the range in turn. A port is free
// when nothing listens on it now; the service that takes it listens soon
// after, so the next call moves past it.
type ports struct {
	t      testing.TB
	lo, hi int
}

var (
	portMu   sync.Mutex
	portNext = map[string]int{} // range → the port to try next
)

func newPorts(t testing.TB) *ports {
	r := testenv.Env("17000-17099", "COURIER_TEST_STACK_PORTS")
	a, b, ok := strings.Cut(r, "-")
	lo, err1 := strconv.Atoi(a)
	hi, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || lo > hi {
		t.Fatalf("teststack: COURIER_TEST_STACK_PORTS=%q: want LOW-HIGH", r)
	}
	return &ports{t: t, lo: lo, hi: hi}
}

// next returns a port of the range nobody listens on, never one it gave
// before in this process (a stopped service keeps its port for its
// restart).
func (p *ports) next() int {
	p.t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	key := fmt.Sprintf("%d-%d", p.lo, p.hi)
	start := max(portNext[key], p.lo)
	for port := start; port <= p.hi; port++ {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		portNext[key] = port + 1
		return port
	}
	p.t.Fatalf("teststack: no free port left in %d-%d (COURIER_TEST_STACK_PORTS)", p.lo, p.hi)
	return 0
}
