package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulShutdown sends SIGTERM while a request is in flight: the
// request completes, new connections are refused, and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	cfg := testConfig(t)
	cfg.AutoMigrate = true
	cfg.OpenSignup = true
	cfg.LogLevel = "info"
	p := startChild(t, "serve", cfg)

	// The node executed itself again with small goroutine stacks (see
	// smallStacks): the same process, now with the setting in GODEBUG.
	if !strings.Contains(os.Getenv("GODEBUG"), "adaptivestackstart=") {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(environ), "adaptivestackstart=0") {
			t.Errorf("serve runs without GODEBUG adaptivestackstart=0")
		}
	}

	// Start a request whose body arrives slowly, so it is in flight.
	conn, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"name":"slow"}`
	fmt.Fprintf(conn, "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	time.Sleep(300 * time.Millisecond) // the handler is now reading the body

	p.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Error("new connection accepted after SIGTERM")
	}

	fmt.Fprint(conn, body[5:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v\n%s", err, p.Logs())
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: %d, want 201", resp.StatusCode)
	}
	exitErr, exited := p.Wait(15 * time.Second)
	if !exited {
		t.Fatalf("still running 15s after SIGTERM\n%s", p.Logs())
	}
	if exitErr != nil {
		t.Fatalf("exit: %v, want 0\n%s", exitErr, p.Logs())
	}
	if !strings.Contains(p.Logs(), "shutting down") {
		t.Errorf("no shutdown line in logs:\n%s", p.Logs())
	}
}

// TestCommands checks the CLI surface: help lists every flag with its
// environment twin, migrate reports status, version prints.
func TestCommands(t *testing.T) {
	bin := courierBinary(t)
	out := runCmd(t, bin, "help")
	for _, want := range []string{"serve", "worker", "dev", "migrate", "-database-url", "COURIER_DATABASE_URL", "-s3-path-style", "COURIER_S3_PATH_STYLE"} {
		if !strings.Contains(out, want) {
			t.Errorf("courier help lacks %q", want)
		}
	}
	out = runCmd(t, bin, "serve", "-h")
	if !strings.Contains(out, "COURIER_HTTP_ADDR") {
		t.Errorf("courier serve -h lacks env twins:\n%s", out)
	}
	cfg := testConfig(t)
	out = runCmd(t, bin, append([]string{"migrate"}, append(configArgs(cfg), "status")...)...)
	if !strings.Contains(out, "0001_accounts.sql") || !strings.Contains(out, "applied") {
		t.Errorf("migrate status:\n%s", out)
	}
	out = runCmd(t, bin, append([]string{"migrate"}, append(configArgs(cfg), "up")...)...)
	if !strings.Contains(out, "up to date (0 applied now)") {
		t.Errorf("migrate up on a migrated schema:\n%s", out)
	}
	if out := runCmd(t, bin, "version"); !strings.HasPrefix(out, "courier ") {
		t.Errorf("version: %q", out)
	}
}

func runCmd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, _ := execCommand(bin, args...).CombinedOutput()
	return string(out)
}
