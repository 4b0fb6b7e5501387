package worker

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/courier-chat/courier"
)

// TestMedia_TempDirSweep: a new worker removes the temp folders of worker
// PIDs that are dead and the stale one of its own PID, keeps those of live
// workers and anything that is not a worker's, and a second handler of the
// same process does not touch the folder its siblings' jobs use.
func TestMedia_TempDirSweep(t *testing.T) {
	parent := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })

	folder := func(name string) string { return filepath.Join(parent, name) }
	own := tempPrefix + strconv.Itoa(os.Getpid())
	for _, name := range []string{
		tempPrefix + strconv.Itoa(dead.Process.Pid) + "/job-1/original",
		tempPrefix + strconv.Itoa(live.Process.Pid) + "/job-2/original",
		own + "/job-3/original",
		tempPrefix + "abc/keep",
		tempPrefix + "0042/keep", // not how a PID is written
		"other/keep",
	} {
		if err := os.MkdirAll(filepath.Dir(folder(name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(folder(name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(folder(tempPrefix+"7"), []byte("a file, not a folder"), 0o600); err != nil {
		t.Fatal(err)
	}

	quiet := slog.New(slog.DiscardHandler)
	h := NewMediaHandler(nil, nil, nil, nil, MediaConfig{TempDir: parent, Logger: quiet})
	if h.tempDir != folder(own) {
		t.Errorf("temp folder %s, want %s", h.tempDir, folder(own))
	}
	for name, want := range map[string]bool{
		tempPrefix + strconv.Itoa(dead.Process.Pid): false,
		tempPrefix + strconv.Itoa(live.Process.Pid): true,
		own:                 false,
		tempPrefix + "abc":  true,
		tempPrefix + "0042": true,
		tempPrefix + "7":    true,
		"other":             true,
	} {
		if _, err := os.Stat(folder(name)); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", name, err == nil, want)
		}
	}

	// A job's temp dir is in the process's folder; a sibling handler made
	// while it exists leaves it alone.
	dir, err := h.jobTempDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != folder(own) {
		t.Fatalf("job temp dir %s, want one in %s", dir, folder(own))
	}
	NewMediaHandler(nil, nil, nil, nil, MediaConfig{TempDir: parent, Logger: quiet})
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a second handler of the same process removed a job's temp dir: %v", err)
	}
}

// TestMedia_JobTempDirRemoved: a job downloads its original into the
// process's folder and leaves nothing there when it ends.
func TestMedia_JobTempDirRemoved(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	b := e.upload([]byte("some bytes"), "application/octet-stream", courier.BlobPlain)
	var seen string
	err := e.handler.withOriginal(context.Background(), b, func(path string) error {
		seen = path
		data, err := os.ReadFile(path)
		if string(data) != "some bytes" {
			t.Errorf("original reads %q, %v", data, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(seen, e.handler.tempDir+string(filepath.Separator)) {
		t.Errorf("original at %s, want it in %s", seen, e.handler.tempDir)
	}
	left, err := os.ReadDir(e.handler.tempDir)
	if err != nil || len(left) != 0 {
		t.Errorf("after the job, %s holds %v (%v)", e.handler.tempDir, left, err)
	}
}
