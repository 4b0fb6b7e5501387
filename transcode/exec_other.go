//go:build !linux

package transcode

import "os/exec"

// isolate does nothing here: parent-death signals are Linux's, so a killed
// worker's ffmpeg runs on until it ends. A deadline or cancellation still
// kills it through exec.CommandContext.
func isolate(cmd *exec.Cmd) {}
