package worker

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// tempPrefix names a worker process's folder of job temp dirs:
// courier-worker-<pid>. Every job of the process makes its temp dir in
// there, so whatever a killed worker leaves (a multi-gigabyte original, a
// half-written MP4) sits in one folder whose name says whether its owner
// still lives.
const tempPrefix = "courier-worker-"

// swept records the parents swept by this process: once per parent, at the
// first MediaHandler, since later handlers of the same process (tests, a
// dev process) share the folder with jobs that may be running.
var swept sync.Map

// processTempDir returns this process's folder of job temp dirs under
// parent. The first call for a parent in a process sweeps it: it removes
// the folders of worker PIDs that are no longer alive, and this process's
// own folder, which at that point can only be left by an earlier process
// that had the same PID (a container's worker is often PID 1 every time).
//
// A PID reused by an unrelated process keeps a dead worker's folder until
// a later start finds that PID gone; workers that share a temp folder
// across PID namespaces (containers with one /tmp volume) must not use
// this folder, as they would take each other's for dead.
func processTempDir(parent string, log *slog.Logger) string {
	own := filepath.Join(parent, tempPrefix+strconv.Itoa(os.Getpid()))
	if _, done := swept.LoadOrStore(parent, true); done {
		return own
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		log.Warn("temp folder not swept", "dir", parent, "err", err)
		return own
	}
	for _, e := range entries {
		pid, ok := workerPID(e)
		if !ok || (pid != os.Getpid() && processAlive(pid)) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		if err := os.RemoveAll(path); err != nil {
			log.Warn("temp folder of a dead worker not removed", "dir", path, "err", err)
			continue
		}
		if pid != os.Getpid() {
			log.Info("removed the temp folder of a dead worker", "dir", path)
		}
	}
	return own
}

// workerPID reads the PID from the name of a worker's temp folder.
func workerPID(e os.DirEntry) (int, bool) {
	rest, ok := strings.CutPrefix(e.Name(), tempPrefix)
	if !ok || !e.IsDir() {
		return 0, false
	}
	pid, err := strconv.Atoi(rest)
	return pid, err == nil && pid > 0 && strconv.Itoa(pid) == rest
}

// jobTempDir makes a temp dir for one job inside the process's folder.
func (h *MediaHandler) jobTempDir() (string, error) {
	if err := os.MkdirAll(h.tempDir, 0o700); err != nil {
		return "", fmt.Errorf("media: temp dir: %w", err)
	}
	dir, err := os.MkdirTemp(h.tempDir, "job-")
	if err != nil {
		return "", fmt.Errorf("media: temp dir: %w", err)
	}
	return dir, nil
}
