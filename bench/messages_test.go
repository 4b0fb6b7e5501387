package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/internal/testserver"
)

// The messaging benches run at a tiny size, starting `courier serve`
// children of a binary built from this checkout, to prove the bench code
// works: rates come out non-zero and every message is accounted for. The
// numbers themselves are not asserted: they are measurements, not tests.

// runBenchJSON runs `courier bench args… -json` in-process and decodes
// its output.
func runBenchJSON(t *testing.T, out any, args ...string) {
	t.Helper()
	_, store := testenv.NewS3(t)
	cfg := Config{Courier: testserver.Binary(t), DatabaseURL: testenv.DatabaseURL(), DatabaseConns: 8,
		RedisURL: testenv.NewRedisDB(t), S3: store}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), cfg, append(args, "-json"), &stdout, &stderr); err != nil {
		t.Fatalf("courier bench %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("bench output: %v\n%s", err, stdout.String())
	}
}

func TestBench_Messages(t *testing.T) {
	var rs []messagesResult
	runBenchJSON(t, &rs, "messages", "-devices", "20", "-senders", "0.5", "-duration", "1s")
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	r := rs[0]
	if r.Devices != 20 || r.Senders != 10 {
		t.Errorf("devices %d senders %d, want 20 and 10", r.Devices, r.Senders)
	}
	if r.RawTxPerS <= 0 || r.SentPerS <= 0 || r.DeliveredPerS <= 0 {
		t.Fatalf("rates not positive: %+v", r)
	}
	if r.Ratio <= 0 || r.Ratio != r.SentPerS/r.RawTxPerS {
		t.Errorf("ratio %v, want sent/raw = %v", r.Ratio, r.SentPerS/r.RawTxPerS)
	}
	// Every acknowledged message in the window reaches the other member.
	if r.DeliveredPerS != r.SentPerS {
		t.Errorf("delivered/s %v != sent/s %v", r.DeliveredPerS, r.SentPerS)
	}
	if r.P50MS <= 0 || r.P99MS < r.P50MS || r.AckP99MS < r.AckP50MS {
		t.Errorf("latencies out of order: %+v", r)
	}
	if r.Errors != 0 {
		t.Errorf("%d errors", r.Errors)
	}
}

func TestBench_Fanout(t *testing.T) {
	var r fanoutResult
	runBenchJSON(t, &r, "fanout", "-members", "20", "-rate", "20", "-duration", "1s")
	if r.SentPerS <= 0 || r.DeliveredPerS <= 0 || r.RedisPerS <= 0 {
		t.Fatalf("rates not positive: %+v", r)
	}
	if r.Missing != 0 {
		t.Errorf("%d deliveries missing", r.Missing)
	}
	// Each message reaches all 20 devices: 19 by a message frame, the
	// sender's by its `sent` answer.
	if want := r.SentPerS * 20; r.DeliveredPerS != want {
		t.Errorf("delivered/s %v, want %v", r.DeliveredPerS, want)
	}
	if r.DeliveredRatio <= 0 || r.P99Ratio <= 0 || r.P99MS < r.P50MS {
		t.Errorf("ratios or latencies not sane: %+v", r)
	}
}

func TestBench_Connections(t *testing.T) {
	var r connectionsResult
	runBenchJSON(t, &r, "connections", "-connections", "200", "-settle", "500ms")
	if r.EchoAfterKiB <= 0 || r.AfterKiB <= 0 {
		t.Fatalf("no RSS read: %+v", r)
	}
	if r.PerConnKiB <= 0 || r.EchoPerConnKiB <= 0 || r.Ratio != r.PerConnKiB/r.EchoPerConnKiB {
		t.Errorf("per-connection figures not sane: %+v", r)
	}
	// Each socket the node holds has at least its reader goroutine: the
	// measurement was taken with the connections open.
	if r.GoroutinesPer < 0.9 || r.GoroutinesPer > 4 {
		t.Errorf("%.2f goroutines per connection, want 1 or 2", r.GoroutinesPer)
	}
}

func TestBench_Encrypted(t *testing.T) {
	var r encryptedResult
	runBenchJSON(t, &r, "encrypted", "-members", "20", "-senders", "2", "-online", "4", "-duration", "2s", "-rounds", "2")
	if r.Members != 20 || r.Senders != 2 || len(r.RoundRatios) != 2 {
		t.Errorf("members %d senders %d rounds %v", r.Members, r.Senders, r.RoundRatios)
	}
	// Encrypted sends are taken (the device lists are right) and every
	// case has its latencies: to `sent`, and to the other online members.
	if r.PlainPerS <= 0 || r.EncPerS <= 0 || r.Ratio != r.EncPerS/r.PlainPerS || r.Errors != 0 {
		t.Fatalf("rates %v and %v, ratio %v, %d errors (%s)", r.PlainPerS, r.EncPerS, r.Ratio, r.Errors, r.FirstError)
	}
	for _, l := range []latencies{r.Plain, r.Encrypted} {
		if l.SentP50MS <= 0 || l.SentP99MS < l.SentP50MS || l.DeliverP50MS <= 0 || l.DeliverP99MS < l.DeliverP50MS {
			t.Errorf("latencies %+v", l)
		}
	}
	if c := r.Client; c.EncryptUS <= 0 || c.DecryptUS <= 0 || c.SealXWingUS <= 0 || c.SealX25519US <= 0 || c.MediaMSPerMiB <= 0 {
		t.Errorf("client costs %+v", c)
	}
}
