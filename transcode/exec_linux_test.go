//go:build linux

package transcode

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, run again by a test, act as a worker
// that runs one long ffmpeg through exec (TestHelperLongFFmpeg).
const helperEnv = "COURIER_TRANSCODE_HELPER"

// TestHelperLongFFmpeg is not a test: TestExec_FFmpegDiesWithWorker runs
// the test binary again with helperEnv set, and this runs ffmpeg for two
// minutes (in real time, -re, so it costs no CPU) until that test SIGKILLs
// the process.
func TestHelperLongFFmpeg(t *testing.T) {
	if os.Getenv(helperEnv) != "long-ffmpeg" {
		return
	}
	c := Config{}.withDefaults()
	c.exec(context.Background(), run{tool: "ffmpeg", bin: c.FFmpeg, args: []string{"-nostdin", "-v", "error",
		"-re", "-f", "lavfi", "-i", "anullsrc=r=8000", "-t", "120", "-f", "null", "-"}})
	os.Exit(3) // never reached unless ffmpeg ended on its own
}

// TestExec_FFmpegDiesWithWorker: a worker killed with SIGKILL, which gives
// it no chance to cancel anything, takes its ffmpeg with it.
func TestExec_FFmpegDiesWithWorker(t *testing.T) {
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperLongFFmpeg$", "-test.count=1")
	// Its TestMain makes a fixture dir it cannot remove when killed: keep
	// it inside ours.
	helper.Env = append(os.Environ(), helperEnv+"=long-ffmpeg", "TMPDIR="+t.TempDir())
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { helper.Process.Kill(); helper.Wait() })

	var ffmpeg int
	waitUntil(t, 20*time.Second, "ffmpeg started by the helper", func() bool {
		ffmpeg = childNamed(helper.Process.Pid, "ffmpeg")
		return ffmpeg != 0
	})
	t.Cleanup(func() {
		if alive(ffmpeg) {
			syscall.Kill(ffmpeg, syscall.SIGKILL) // the test failed: do not leave it running
		}
	})
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	helper.Wait()
	waitUntil(t, 5*time.Second, "ffmpeg "+strconv.Itoa(ffmpeg)+" gone after its worker was killed", func() bool {
		return !alive(ffmpeg)
	})
}

// TestExec_CancelKillsProcessGroup: when a run's context is done, what the
// tool started goes too, not only the tool.
func TestExec_CancelKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Config{}.withDefaults()
	errc := make(chan error, 1)
	go func() {
		_, err := c.exec(ctx, run{tool: "sh", bin: "sh", args: []string{"-c", "sleep 60 & echo $! > " + pidFile + "; wait"}})
		errc <- err
	}()
	var sleep int
	waitUntil(t, 10*time.Second, "the tool's own child started", func() bool {
		b, err := os.ReadFile(pidFile)
		sleep, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && sleep > 0
	})
	t.Cleanup(func() {
		if alive(sleep) {
			syscall.Kill(sleep, syscall.SIGKILL)
		}
	})
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("exec returned no error after its context was cancelled")
	}
	waitUntil(t, 3*time.Second, "the tool's child gone after cancel", func() bool { return !alive(sleep) })
}

// childNamed returns the PID of a process whose parent is ppid and whose
// command name is comm, or 0.
func childNamed(ppid int, comm string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, _, parent := procStat(pid)
		if parent == ppid && name == comm {
			return pid
		}
	}
	return 0
}

// alive reports whether pid runs. A zombie does not: it has ended, and
// only waits for a parent to reap it, which an orphan's may never do in a
// container whose PID 1 is not an init.
func alive(pid int) bool {
	_, state, _ := procStat(pid)
	return state != "" && state != "Z" && state != "X"
}

// procStat reads the command name, state and parent PID of pid from
// /proc/PID/stat: "pid (comm) state ppid …", where comm may hold spaces.
func procStat(pid int) (comm, state string, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", "", 0
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return "", "", 0
	}
	fields := strings.Fields(s[close+1:])
	if len(fields) < 2 {
		return "", "", 0
	}
	ppid, _ = strconv.Atoi(fields[1])
	return s[open+1 : close], fields[0], ppid
}

func waitUntil(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
