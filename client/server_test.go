package client_test

import (
	"testing"

	"github.com/courier-chat/courier/internal/testserver"
)

// startServer starts one Courier node (API and worker) for a test, with a
// message rate that never throttles a test's bursts.
func startServer(t *testing.T) *testserver.Cluster {
	return testserver.Start(t, testserver.Options{MessageRate: 1000})
}
