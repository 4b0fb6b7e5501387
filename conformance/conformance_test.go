package conformance

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/courier-chat/courier/internal/testserver"
)

var urlFlag = flag.String("url", "", "comma-separated base URLs of the Courier nodes to check (default: start three)")

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		os.Exit(killChild(dir)) // this binary run again as the killed client
	}
	flag.Parse()
	os.Exit(m.Run())
}

// target is the nodes under test: those of -url, or three started here.
// cluster is nil for nodes given by -url (checks that restart a node
// need nodes of their own).
type target struct {
	urls    []string
	cluster *testserver.Cluster
}

// TestConformance runs every check against one set of three nodes.
func TestConformance(t *testing.T) {
	var tg target
	if *urlFlag != "" {
		tg.urls = strings.Split(*urlFlag, ",")
	} else {
		tg.cluster = testserver.Start(t, testserver.Options{Nodes: 3})
		for _, n := range tg.cluster.Nodes {
			tg.urls = append(tg.urls, n.URL)
		}
	}
	for len(tg.urls) < 3 {
		tg.urls = append(tg.urls, tg.urls[0]) // one node plays all three
	}
	for _, c := range []struct {
		name string
		fn   func(*testing.T, target)
	}{
		{"OrderNoGapsDedupAcrossNodes", testOrder},
		{"ReceiptsOnlyMoveForward", testReceipts},
		{"TypingExpiresAndReachesOnlyOnline", testTyping},
		{"Presence", testPresence},
		{"OutboxSurvivesKill", func(t *testing.T, tg target) { testOutboxSurvivesKill(t, tg.urls) }},
		{"HundredClientsReconnectAtOnce", testReconnectStorm},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, tg) })
	}
}
