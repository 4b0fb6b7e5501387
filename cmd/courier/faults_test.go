package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/internal/teststack"
)

// TestFaults runs Courier on its own Redis, PostgreSQL cluster and S3
// server (internal/teststack), with three serve nodes and a worker, while
// devices spread over the nodes send all the time. Each scenario takes
// one thing away — a dependency stopped or killed, a node killed — and
// brings it back. Afterwards, per scenario: every acknowledged message
// reached every device once after dedup, with no seq gap, without a final
// sync (only what the protocol gives: live delivery, resync, gap-fill,
// the sync of a reconnect); every socket that stayed open through a Redis
// outage was told resync; and service recovered (every node ready, every
// device acknowledged again) within faultRecoveryBound.
//
// The long version (longer outages, more devices, each scenario three
// times) prints the table docs/operations.md keeps:
//
//	COURIER_SOAK=1 go test -run TestFaults -v -timeout 30m ./cmd/courier/
func TestFaults(t *testing.T) {
	r := newFaultRun(t)
	rounds := 1
	if r.soak {
		rounds = 3
	}
	var results []faultResult
	for range rounds {
		for _, sc := range faultScenarios {
			results = append(results, r.run(sc))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d devices on 3 nodes, outages of %v\n", len(r.devices), r.outage)
	fmt.Fprintf(&b, "| scenario | acked | lost | duplicated | gaps | seconds to recover | longest wait for an ack (s) |\n|---|---|---|---|---|---|---|\n")
	for _, res := range results {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %.1f | %.1f |\n", res.scenario, res.acked, res.lost, res.duplicated, res.gaps, res.recovered.Seconds(), res.pause.Seconds())
	}
	t.Log("\n" + b.String())
}

// faultRecoveryBound is how long after a dependency or node returns every
// node must be ready again and every device have a message acknowledged.
const faultRecoveryBound = 20 * time.Second

// faultScenario takes one thing away (inject) and brings it back (heal).
type faultScenario struct {
	name   string
	resync bool // sockets open through the fault must be told resync
	inject func(r *faultRun)
	during func(r *faultRun) // checks while it is away; may be nil
	heal   func(r *faultRun)
}

var faultScenarios = []faultScenario{
	{name: "Redis killed and restarted", resync: true,
		inject: func(r *faultRun) { r.stack.Redis.Stop(syscall.SIGKILL) },
		during: func(r *faultRun) {
			r.readyzNames("redis")
			// A socket connects while Redis is down and syncs.
			d := newDevice("newcomer", r.nodes[0].URL, r.accounts[0].Token)
			if err := d.connect(); err != nil {
				r.t.Errorf("a socket could not connect during the Redis outage: %v", err)
			} else {
				d.ws.Close()
			}
		},
		heal: func(r *faultRun) { r.stack.Redis.Start() }},
	{name: "PostgreSQL stopped and started",
		inject: func(r *faultRun) { r.stack.Postgres.Stop(syscall.SIGINT) }, // fast shutdown
		during: func(r *faultRun) { r.readyzNames("postgres") },
		heal:   func(r *faultRun) { r.stack.Postgres.Start() }},
	{name: "PostgreSQL crashed and started",
		inject: func(r *faultRun) { r.stack.Postgres.Stop(syscall.SIGQUIT) }, // immediate: recovery at start
		heal:   func(r *faultRun) { r.stack.Postgres.Start() }},
	{name: "S3 killed and restarted",
		inject: func(r *faultRun) { r.stack.S3.Stop(syscall.SIGKILL) },
		during: func(r *faultRun) { r.readyzNames("s3") },
		heal:   func(r *faultRun) { r.stack.S3.Start() }},
	{name: "worker killed and restarted",
		inject: func(r *faultRun) { r.worker.Kill() },
		heal:   func(r *faultRun) { r.startWorker() }},
	{name: "node SIGKILL and restart",
		inject: func(r *faultRun) { r.nodes[1].Kill() },
		heal:   func(r *faultRun) { r.startNode(1) }},
	{name: "node SIGTERM and restart",
		inject: func(r *faultRun) {
			r.nodes[2].Signal(syscall.SIGTERM)
			if _, ok := r.nodes[2].Wait(30 * time.Second); !ok {
				r.t.Errorf("node 2 did not stop within 30 s of SIGTERM")
			}
		},
		heal: func(r *faultRun) { r.startNode(2) }},
}

// faultRun is the stack, the nodes and the devices every scenario shares.
type faultRun struct {
	t        *testing.T
	soak     bool
	outage   time.Duration
	stack    *teststack.Stack
	cfg      Config
	nodes    []*childProcess
	nodeAddr []string
	worker   *childProcess
	health   string // the worker's /healthz
	accounts []account
	devices  []*device
	round    int
}

type faultResult struct {
	scenario                      string
	acked, lost, duplicated, gaps int
	recovered                     time.Duration
	pause                         time.Duration // longest a device waited between two acks
}

func newFaultRun(t *testing.T) *faultRun {
	r := &faultRun{t: t, soak: os.Getenv("COURIER_SOAK") != "", outage: 3 * time.Second}
	devices := 6
	if r.soak {
		r.outage, devices = 10*time.Second, 12
	}
	r.stack = teststack.Start(t)
	cfg, _, err := parseConfig("test", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL, cfg.RedisURL = r.stack.DatabaseURL, r.stack.RedisURL
	cfg.S3 = testenv.S3Config("courier-faults")
	cfg.S3.Endpoint = r.stack.S3Endpoint
	cfg.OpenSignup = true
	cfg.LogLevel = "warn"
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.UploadTempDir = t.TempDir()
	cfg.MetricsAddr = ""
	cfg.MessageRate, cfg.MessageBurst = 1000, 1000
	r.cfg = cfg
	for i := range 3 {
		r.nodeAddr = append(r.nodeAddr, teststack.NextAddr(t))
		r.nodes = append(r.nodes, nil)
		r.startNode(i)
	}
	r.health = "http://" + teststack.NextAddr(t) + "/healthz"
	r.startWorker()

	urls := []string{r.nodes[0].URL, r.nodes[1].URL, r.nodes[2].URL}
	for i := range devices {
		a := createAccount(t, &testProcess{URL: urls[0]}, fmt.Sprintf("user%d", i))
		r.accounts = append(r.accounts, a)
		// Each device starts on its own node and fails over to the next.
		d := newDevice(fmt.Sprintf("d%d", i), urls[i%3], a.Token)
		d.urls = urls
		if err := d.connect(); err != nil {
			t.Fatal(err)
		}
		r.devices = append(r.devices, d)
	}
	t.Cleanup(func() {
		for _, d := range r.devices {
			d.mu.Lock()
			d.ws.Close()
			d.mu.Unlock()
		}
	})
	return r
}

// startNode starts (or restarts) node i on its address; the first start
// of node 0 migrates the schema.
func (r *faultRun) startNode(i int) {
	cfg := r.cfg
	cfg.HTTPAddr = r.nodeAddr[i]
	cfg.AutoMigrate = i == 0 && r.nodes[0] == nil
	r.nodes[i] = startChild(r.t, "serve", cfg)
}

func (r *faultRun) startWorker() {
	cfg := r.cfg
	cfg.MetricsAddr = strings.TrimSuffix(strings.TrimPrefix(r.health, "http://"), "/healthz")
	r.worker = startChild(r.t, "worker", cfg)
}

// readyzNames checks that a node's /readyz answers 503 naming what is down.
func (r *faultRun) readyzNames(dep string) {
	var ready struct{ Down []string }
	var status int
	waitFor(r.t, 10*time.Second, "/readyz to name "+dep, func() bool {
		status = getJSON(r.nodes[0].URL+"/readyz", &ready)
		return status == http.StatusServiceUnavailable && len(ready.Down) == 1 && ready.Down[0] == dep
	})
}

// ready reports whether every node's /readyz and the worker's /healthz
// answer 200.
func (r *faultRun) ready() bool {
	for _, n := range r.nodes {
		if getJSON(n.URL+"/readyz", nil) != http.StatusOK {
			return false
		}
	}
	return getJSON(r.health, nil) == http.StatusOK
}

// run plays one scenario in a conversation of its own, with every device
// sending, and measures it.
func (r *faultRun) run(sc faultScenario) faultResult {
	t := r.t
	r.round++
	prefix := fmt.Sprintf("%d/", r.round)
	conv := createConversation(t, r.nodes[0].URL, r.accounts[0].Token, map[string]any{
		"kind": "group", "name": sc.name, "members": memberIDs(r.accounts[1:])})

	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, d := range r.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				d.sendUntilAcked(t, conv, fmt.Sprintf("%s%s-%d", prefix, d.name, i))
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// A failed check ends the test here: the senders stop first.
	t.Cleanup(func() { stop.Store(true); wg.Wait() })
	time.Sleep(1500 * time.Millisecond)

	type socketState struct{ sockets, resyncs int }
	before := make([]socketState, len(r.devices))
	for i, d := range r.devices {
		d.mu.Lock()
		before[i] = socketState{d.sockets, d.resyncs}
		d.maxPause = 0
		d.mu.Unlock()
	}
	sc.inject(r)
	if sc.during != nil {
		sc.during(r)
	}
	time.Sleep(r.outage)
	sc.heal(r)
	healed := time.Now()

	// Recovered: every node ready, every device acknowledged after heal.
	var recovered time.Duration
	for recovered == 0 {
		acked := true
		for _, d := range r.devices {
			d.mu.Lock()
			acked = acked && d.lastAck.After(healed)
			d.mu.Unlock()
		}
		if acked && r.ready() {
			recovered = time.Since(healed)
		} else if time.Since(healed) > faultRecoveryBound {
			t.Errorf("%s: not recovered %v after it returned", sc.name, faultRecoveryBound)
			recovered = time.Since(healed)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sc.resync {
		for i, d := range r.devices {
			waitFor(t, faultRecoveryBound, d.name+" told resync or reconnected after "+sc.name, func() bool {
				d.mu.Lock()
				defer d.mu.Unlock()
				return d.resyncs > before[i].resyncs || d.sockets > before[i].sockets
			})
		}
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	res := faultResult{scenario: sc.name, recovered: recovered}
	acked := map[string]int64{}
	for _, d := range r.devices {
		d.mu.Lock()
		for cid, seq := range d.acked {
			if strings.HasPrefix(cid, prefix) {
				acked[cid] = seq
			}
		}
		d.mu.Unlock()
	}
	res.acked = len(acked)
	for _, d := range r.devices {
		d.mu.Lock()
		res.pause = max(res.pause, d.maxPause)
		d.mu.Unlock()
	}
	// Every device gets there by itself: no sync is forced here.
	for end := time.Now().Add(faultRecoveryBound); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if res.lost, res.duplicated, res.gaps = r.tally(conv, acked); res.lost == 0 {
			break
		}
	}
	if res.lost+res.duplicated+res.gaps != 0 {
		t.Errorf("%s: %d acknowledged, %d lost, %d duplicated, %d gaps", sc.name, res.acked, res.lost, res.duplicated, res.gaps)
		for _, d := range r.devices {
			d.mu.Lock()
			t.Logf("%s on %s: %d received, cursor %d, %d sockets, %d resyncs", d.name, d.url, len(d.received[conv]), d.cursors()[conv], d.sockets, d.resyncs)
			d.mu.Unlock()
		}
	}
	t.Logf("%s: %d acknowledged, recovered in %.1f s, longest wait for an ack %.1f s", sc.name, res.acked, recovered.Seconds(), res.pause.Seconds())
	return res
}

// tally counts, over every device's view of conv: acknowledged messages
// missing (or at another seq), client IDs stored at two seqs, and seqs
// missing below the highest one received.
func (r *faultRun) tally(conv string, acked map[string]int64) (lost, duplicated, gaps int) {
	for _, d := range r.devices {
		d.mu.Lock()
		got := d.received[conv]
		byClient := map[string]int64{}
		var top int64
		for seq, cid := range got {
			if _, dup := byClient[cid]; dup {
				duplicated++
			}
			byClient[cid] = seq
			top = max(top, seq)
		}
		gaps += int(top) - len(got)
		for cid, seq := range acked {
			if byClient[cid] != seq {
				lost++
			}
		}
		d.mu.Unlock()
	}
	return lost, duplicated, gaps
}

func memberIDs(accounts []account) []string {
	var ids []string
	for _, a := range accounts {
		ids = append(ids, a.UserID)
	}
	return ids
}

// getJSON GETs url and decodes a JSON answer into out (when not nil); it
// returns the status, 0 when the request failed.
func getJSON(url string, out any) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}
