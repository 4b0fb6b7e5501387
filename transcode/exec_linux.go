//go:build linux

package transcode

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// isolate ties an ffmpeg or ffprobe run to the worker's life.
//
// Pdeathsig: the kernel kills the child when the worker dies, even by
// SIGKILL or the OOM killer, which give Go no chance to cancel anything.
// Without it a killed worker's transcode runs on for minutes, taking the
// cores and the temp disk the restarted worker needs. (The signal follows
// the death of the OS thread that started the child, not of the process;
// Go ends a thread only when a goroutine locked to it exits, which this
// program does not do, so in practice the two are the same.)
//
// Setpgid and Cancel: the child leads a process group of its own, and a
// deadline or cancellation kills the whole group, so a helper process the
// tool may spawn goes too, instead of holding the output pipes open until
// WaitDelay.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
