package main

import (
	"bufio"
	"flag"
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
)

// Tests that need a real OS process (SIGTERM, SIGKILL, RSS) run the courier
// binary, built once per test run.
var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

func courierBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "courier-bin")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "courier")
		out, err := exec.Command("go", "build", "-o", buildPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// childProcess is a courier process started by a test.
type childProcess struct {
	Cmd  *exec.Cmd
	URL  string // set when it serves HTTP
	Addr string
	done chan error
	logs *strings.Builder
	mu   sync.Mutex
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs `courier mode` with cfg; for serve and dev it waits until
// /readyz answers. A fixed cfg.HTTPAddr lets a test restart a node on the
// same address.
func startChild(t *testing.T, mode string, cfg Config) *childProcess {
	t.Helper()
	if mode != "worker" && strings.HasSuffix(cfg.HTTPAddr, ":0") {
		cfg.HTTPAddr = freeAddr(t)
	}
	cmd := exec.Command(courierBinary(t), append([]string{mode}, configArgs(cfg)...)...)
	cmd.Env = os.Environ()
	p := &childProcess{Cmd: cmd, Addr: cfg.HTTPAddr, done: make(chan error, 1), logs: &strings.Builder{}}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.Kill() })
	if mode == "worker" {
		return p
	}
	p.URL = "http://" + cfg.HTTPAddr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.URL + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("courier %s exited: %v\n%s", mode, err, p.Logs())
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("courier %s not ready after 30s\n%s", mode, p.Logs())
	return nil
}

// Logs returns what the process wrote to stderr so far.
func (p *childProcess) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Signal sends sig to the process.
func (p *childProcess) Signal(sig os.Signal) { p.Cmd.Process.Signal(sig) }

// Kill ends the process at once (SIGKILL) and waits for it.
func (p *childProcess) Kill() {
	if p.Cmd.ProcessState == nil {
		p.Cmd.Process.Signal(syscall.SIGKILL)
		p.Wait(10 * time.Second)
	}
}

// Wait waits for the process to exit and returns its exit error.
func (p *childProcess) Wait(timeout time.Duration) (error, bool) {
	select {
	case err := <-p.done:
		p.done <- err // keep it for a later Wait
		return err, true
	case <-time.After(timeout):
		return nil, false
	}
}

func execCommand(name string, args ...string) *exec.Cmd { return exec.Command(name, args...) }

// configArgs turns cfg into command-line flags, so a child process runs
// with exactly the configuration its parent built.
func configArgs(cfg Config) []string {
	var tmp Config
	fs := flag.NewFlagSet("args", flag.ContinueOnError)
	tmp.bind(fs)
	tmp = cfg // the flags point into tmp, so they now read cfg's values
	var args []string
	fs.VisitAll(func(f *flag.Flag) {
		args = append(args, "-"+f.Name+"="+f.Value.String())
	})
	return args
}
