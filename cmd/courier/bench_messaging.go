package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func init() {
	benchScenarios["messages"] = benchMessages
	benchScenarios["fanout"] = benchFanout
	benchScenarios["connections"] = benchConnections
}

// messagesResult is one run of the messages scenario.
type messagesResult struct {
	Devices       int     `json:"devices"`
	Conversations int     `json:"conversations"`
	Senders       int     `json:"senders"`
	DurationS     float64 `json:"duration_s"`
	BodyBytes     int     `json:"body_bytes"`
	RawTxPerS     float64 `json:"raw_tx_per_s"`    // baseline: one message per transaction
	SentPerS      float64 `json:"sent_per_s"`      // durable: sent frames, answered after commit
	Ratio         float64 `json:"ratio"`           // sent_per_s / raw_tx_per_s
	DeliveredPerS float64 `json:"delivered_per_s"` // to the other member's device
	P50MS         float64 `json:"deliver_p50_ms"`  // send to deliver
	P99MS         float64 `json:"deliver_p99_ms"`  //
	AckP50MS      float64 `json:"sent_p50_ms"`     // send to sent
	AckP99MS      float64 `json:"sent_p99_ms"`     //
	ServeCPUS     float64 `json:"serve_cpu_s"`     // CPU the node used while senders sent (0 with --url)
	BenchCPUS     float64 `json:"bench_cpu_s"`     // CPU the bench's own clients used meanwhile
	Errors        int64   `json:"errors"`          // error frames and failed sends
	LoadAvg       string  `json:"load_average_1m"` // at the start
}

// benchMessages: N devices in direct conversations (pairs), a fraction of
// them sending, one message in flight each, for a duration.
func benchMessages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f msgBenchFlags
	fs := flag.NewFlagSet("courier bench messages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs)
	devices := fs.String("devices", "1000,10000", "connected devices, comma-separated: one run each")
	fraction := fs.Float64("senders", 0.1, "fraction of the devices sending (the first device of each pair first)")
	duration := fs.Duration("duration", 10*time.Second, "how long the senders send")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var results []messagesResult
	for _, s := range strings.Split(*devices, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n%2 != 0 {
			return fmt.Errorf("-devices %q: want even numbers of at least 2", s)
		}
		senders := max(1, min(n, int(float64(n)**fraction+0.5)))
		r, err := runMessages(ctx, &f, n, senders, *duration, stderr)
		if err != nil {
			return err
		}
		results = append(results, *r)
	}
	if f.json {
		return printJSON(stdout, results)
	}
	fmt.Fprintf(stdout, "messages: direct conversations, one message in flight per sender, %d-byte bodies; raw = the bare insert-with-seq transaction at the same concurrency\n", f.bodySize)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "devices\tsenders\tseconds\traw tx/s\tdurable msgs/s\tratio\tdelivered/s\tdeliver p50 ms\tdeliver p99 ms\tsent p50 ms\tsent p99 ms\tserve CPU s\tbench CPU s\terrors\tload\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.0f\t%.2fx\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t\n", r.Devices, r.Senders, r.DurationS,
			r.RawTxPerS, r.SentPerS, r.Ratio, r.DeliveredPerS, r.P50MS, r.P99MS, r.AckP50MS, r.AckP99MS, r.ServeCPUS, r.BenchCPUS, r.Errors, r.LoadAvg)
	}
	return tw.Flush()
}

// senderDevice is the device index of sender s among n devices paired
// (0,1), (2,3), …: first devices of pairs, then second ones, so up to n/2
// senders never share a conversation. Its conversation is the result / 2.
func senderDevice(s, n int) int {
	if s < n/2 {
		return 2 * s
	}
	return 2*(s-n/2) + 1
}

func runMessages(ctx context.Context, f *msgBenchFlags, n, senders int, d time.Duration, stderr io.Writer) (*messagesResult, error) {
	r := &messagesResult{Devices: n, Conversations: n / 2, Senders: senders, DurationS: d.Seconds(),
		BodyBytes: f.bodySize, LoadAvg: loadAverage()}
	benchProgress(stderr, "messages %d devices: raw baseline, %d senders", n, senders)
	raw, err := rawInsertRate(ctx, f, n, senders, d)
	if err != nil {
		return nil, fmt.Errorf("raw baseline: %w", err)
	}
	r.RawTxPerS = raw

	t, err := newBenchTarget(ctx, f)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	benchProgress(stderr, "messages %d devices: accounts and conversations", n)
	accounts, convs, err := benchPairs(ctx, t.Setup, n)
	if err != nil {
		return nil, err
	}
	if err := t.Start(ctx); err != nil {
		return nil, err
	}
	benchProgress(stderr, "messages %d devices: connecting to %s", n, t.URL)
	var w benchWindow
	devs, err := dialDevices(ctx, wsURL(t.URL), accounts, &w)
	if err != nil {
		return nil, err
	}
	benchProgress(stderr, "messages %d devices: %d senders for %s", n, senders, d)

	cpu := startCPUWatch(t.Child)
	acked := make([]int64, senders)
	ackLat := make([][]time.Duration, senders)
	errs := make([]int64, senders)
	start := time.Now()
	w.set(start, d)
	end := start.Add(d)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			dev := devs[senderDevice(s, n)]
			conv := convs[senderDevice(s, n)/2]
			for time.Now().Before(end) && ctx.Err() == nil {
				stamp, lat, err := dev.sendAndWait(conv, f.bodySize)
				if err != nil {
					errs[s]++
					if dev.closed() {
						return
					}
					continue
				}
				if w.in(stamp) { // as deliveries are counted
					acked[s]++
					ackLat[s] = append(ackLat[s], lat)
				}
			}
		}(s)
	}
	wg.Wait()
	r.ServeCPUS, r.BenchCPUS = cpu()
	time.Sleep(time.Second) // deliveries of the last messages
	closeDevices(devs)

	var all, acks []time.Duration
	var sent, delivered int64
	for s := range senders {
		sent += acked[s]
		r.Errors += errs[s]
		acks = append(acks, ackLat[s]...)
	}
	for _, dev := range devs {
		delivered += dev.delivered
		all = append(all, dev.latencies...)
	}
	secs := d.Seconds()
	r.SentPerS, r.DeliveredPerS = float64(sent)/secs, float64(delivered)/secs
	r.Ratio = r.SentPerS / r.RawTxPerS
	r.P50MS, r.P99MS = percentileMS(all, 50), percentileMS(all, 99)
	r.AckP50MS, r.AckP99MS = percentileMS(acks, 50), percentileMS(acks, 99)
	return r, nil
}

// startCPUWatch starts counting the CPU the node (when it is a child) and
// this process use; the returned func stops and reports seconds.
func startCPUWatch(child *benchChild) func() (serve, bench float64) {
	self := os.Getpid()
	self0, _ := processCPU(self)
	var child0 time.Duration
	if child != nil {
		child0, _ = processCPU(child.PID())
	}
	return func() (float64, float64) {
		self1, _ := processCPU(self)
		var child1 time.Duration
		if child != nil {
			child1, _ = processCPU(child.PID())
		}
		return (child1 - child0).Seconds(), (self1 - self0).Seconds()
	}
}

// closed reports whether the socket has gone.
func (d *wsDevice) closed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// benchPairs creates n accounts and a direct conversation for each pair.
func benchPairs(ctx context.Context, s benchSetup, n int) ([]benchAccount, []string, error) {
	accounts, err := createAccounts(ctx, s, "bench", n)
	if err != nil {
		return nil, nil, err
	}
	convs := make([]string, n/2)
	err = benchParallel(ctx, n/2, 16, func(ctx context.Context, j int) (err error) {
		convs[j], err = s.CreateDirect(ctx, accounts[2*j], accounts[2*j+1])
		return err
	})
	return accounts, convs, err
}

// rawInsertRate is the baseline: the bare insert-with-seq transaction of
// postgres.RawSend, one message per transaction,
// from the same number of concurrent senders in the same conversations,
// on a pool as large as the node's, in a scratch schema.
func rawInsertRate(ctx context.Context, f *msgBenchFlags, n, senders int, d time.Duration) (float64, error) {
	s, err := newBenchSchema(ctx, f.databaseURL, int32(f.dbConns))
	if err != nil {
		return 0, err
	}
	defer s.Drop()
	used := min(senders, n/2) * 2 // the devices of the conversations senders use
	accounts, convs, err := benchPairs(ctx, newDBSetup(s.Pool), used)
	if err != nil {
		return 0, err
	}
	body := make([]byte, f.bodySize)
	counts := make([]int64, senders)
	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			dev := senderDevice(i, used)
			for k := 0; runCtx.Err() == nil; k++ {
				clientID := fmt.Sprintf("raw-%d-%d", i, k)
				if postgres.RawSend(runCtx, s.Pool, &courier.Device{ID: accounts[dev].DeviceID, UserID: accounts[dev].UserID}, convs[dev/2], clientID, body) == nil {
					counts[i]++
				}
			}
		}(i)
	}
	wg.Wait()
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, fmt.Errorf("no transaction committed in %s", d)
	}
	return float64(total) / d.Seconds(), nil
}
