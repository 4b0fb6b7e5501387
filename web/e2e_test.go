package web

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestE2EVectors_Node runs the browser's e2e module (static/e2e) under
// Node's test runner against the vectors the Go client pins
// (client/e2e/testdata): every deterministic byte equal, every pinned
// sealed sender key opened, and the published HPKE vectors of both KEMs.
// Node 20 has WebCrypto as globalThis.crypto, the API the page uses.
// Without node the test fails: it is part of the suite, not optional.
func TestE2EVectors_Node(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to test static/e2e (Debian: apt-get install nodejs): ", err)
	}
	files, err := filepath.Glob("static/e2e/test/*.test.js")
	if err != nil || len(files) == 0 {
		t.Fatalf("no tests in static/e2e/test: %v", err)
	}
	args := append([]string{"--test", "--test-reporter=tap"}, files...)
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
