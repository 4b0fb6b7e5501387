package client

import (
	"errors"
	"io"
	"testing"

	"github.com/courier-chat/courier"
)

// Every close code of docs/protocol.md is acted on: the integration tests
// provoke 1001 (a node stopped), 4001 (a device revoked) and 4002 (a
// device over its socket cap) on a real server; this table pins the
// decision for each, including those a test cannot make a healthy server
// send (1009 needs a frame Send refuses to write, 1013 a Redis that
// fails mid-subscribe).
func TestCloseAction(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want afterClose
	}{
		{"1001 going away", &CloseError{Code: CloseGoingAway}, redialNow},
		{"1009 frame too large", &CloseError{Code: CloseTooLarge}, backOff},
		{"1013 try later", &CloseError{Code: CloseTryLater}, backOff},
		{"4000 slow consumer", &CloseError{Code: courier.CloseSlowConsumer}, redialNow},
		{"4001 revoked", &CloseError{Code: courier.CloseRevoked}, stopRevoked},
		{"4002 replaced", &CloseError{Code: courier.CloseReplaced}, stopReplaced},
		{"network, no close frame", &CloseError{Err: io.ErrUnexpectedEOF}, backOff},
		{"1000 normal (a proxy hung up)", &CloseError{Code: 1000}, backOff},
		{"token refused at dial", &courier.Error{Code: courier.EUNAUTHORIZED}, stopRevoked},
		{"dial failed", errors.New("connection refused"), backOff},
	} {
		if got := closeAction(c.err); got != c.want {
			t.Errorf("%s: closeAction = %d, want %d", c.name, got, c.want)
		}
	}
}
