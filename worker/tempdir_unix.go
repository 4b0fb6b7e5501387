//go:build unix

package worker

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this PID exists. Signal 0
// checks without sending anything; EPERM means it exists but is another
// user's.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
