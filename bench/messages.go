package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// messagesResult is one run of the messages scenario.
type messagesResult struct {
	Devices       int       `json:"devices"`
	Conversations int       `json:"conversations"`
	Senders       int       `json:"senders"`
	Rate          float64   `json:"rate"` // messages/s asked of each sender; 0 = next after each sent
	DurationS     float64   `json:"duration_s"`
	Rounds        int       `json:"rounds"`
	BodyBytes     int       `json:"body_bytes"`
	RawTxPerS     float64   `json:"raw_tx_per_s"`    // baseline: one message per transaction
	SentPerS      float64   `json:"sent_per_s"`      // durable: sent frames, answered after commit
	Ratio         float64   `json:"ratio"`           // sent_per_s / raw_tx_per_s
	RoundRatios   []float64 `json:"round_ratios"`    // the same, per round
	DeliveredPerS float64   `json:"delivered_per_s"` // to the other member's device
	P50MS         float64   `json:"deliver_p50_ms"`  // send to deliver
	P99MS         float64   `json:"deliver_p99_ms"`  //
	AckP50MS      float64   `json:"sent_p50_ms"`     // send to sent
	AckP99MS      float64   `json:"sent_p99_ms"`     //
	ServeCPUS     float64   `json:"serve_cpu_s"`     // CPU the node used while senders sent (0 with --url)
	BenchCPUS     float64   `json:"bench_cpu_s"`     // CPU the bench's own clients used meanwhile
	Errors        int64     `json:"errors"`          // error frames and failed sends
	LoadAvg       string    `json:"load_average_1m"` // at the start
}

// benchMessages: N devices in direct conversations (pairs), a fraction of
// them sending, one message in flight each, for a duration.
func benchMessages(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var f msgBenchFlags
	fs := flag.NewFlagSet("courier bench messages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs, cfg)
	devices := fs.String("devices", "1000,10000", "connected devices, comma-separated: one run each")
	fraction := fs.Float64("senders", 0.1, "fraction of the devices sending (the first device of each pair first)")
	rate := fs.Float64("rate", 0, "messages per second each sender sends, on a fixed schedule (the raw baseline still runs flat out); 0 = the next as soon as the last is sent")
	duration := fs.Duration("duration", 10*time.Second, "how long the senders send, and the baseline runs, in all")
	rounds := fs.Int("rounds", 4, "the duration is split into this many rounds of baseline then Courier, so drift in the machine's speed hits both alike")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: want at least 1", *rounds)
	}
	var results []messagesResult
	for _, s := range strings.Split(*devices, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 2 || n%2 != 0 {
			return fmt.Errorf("-devices %q: want even numbers of at least 2", s)
		}
		senders := max(1, min(n, int(float64(n)**fraction+0.5)))
		r := &messagesResult{Devices: n, Conversations: n / 2, Senders: senders, Rate: *rate,
			DurationS: duration.Seconds(), Rounds: *rounds, BodyBytes: f.bodySize, LoadAvg: loadAverage()}
		if err := runMessages(ctx, &f, r, stderr); err != nil {
			return err
		}
		results = append(results, *r)
	}
	if f.json {
		return printJSON(stdout, results)
	}
	load := "flat out: one message in flight per sender"
	if *rate > 0 {
		load = fmt.Sprintf("each sender at %g msgs/s", *rate)
	}
	fmt.Fprintf(stdout, "messages: direct conversations, %s, %d-byte bodies, %d rounds; raw = the bare insert-with-seq transaction at the same concurrency, flat out\n",
		load, f.bodySize, *rounds)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "devices\tsenders\tseconds\traw tx/s\tdurable msgs/s\tratio\tround ratios\tdelivered/s\tdeliver p50 ms\tdeliver p99 ms\tsent p50 ms\tsent p99 ms\tserve CPU s\tbench CPU s\terrors\tload\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.0f\t%.0f\t%.2fx\t%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t\n", r.Devices, r.Senders, r.DurationS,
			r.RawTxPerS, r.SentPerS, r.Ratio, ratiosText(r.RoundRatios), r.DeliveredPerS, r.P50MS, r.P99MS, r.AckP50MS, r.AckP99MS, r.ServeCPUS, r.BenchCPUS, r.Errors, r.LoadAvg)
	}
	return tw.Flush()
}

func ratiosText(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
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

// benchWarmUp is how long both sides run before anything is measured.
const benchWarmUp = 3 * time.Second

// runMessages sets up the baseline and the node, then alternates rounds:
// the baseline for duration/rounds, then Courier's senders for as long.
func runMessages(ctx context.Context, f *msgBenchFlags, r *messagesResult, stderr io.Writer) error {
	n, senders := r.Devices, r.Senders
	benchProgress(stderr, "messages %d devices: raw baseline schema, %d senders", n, senders)
	raw, err := newRawBaseline(ctx, f, n, senders)
	if err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	defer raw.Close()

	t, err := newBenchTarget(ctx, f)
	if err != nil {
		return err
	}
	defer t.Close()
	benchProgress(stderr, "messages %d devices: accounts and conversations", n)
	accounts, convs, err := benchPairs(ctx, t.Setup, n)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	benchProgress(stderr, "messages %d devices: connecting to %s", n, t.URL)
	var w benchWindow
	devs, err := dialDevices(ctx, t.URL, accounts, &w)
	if err != nil {
		return err
	}

	d := time.Duration(float64(time.Second) * r.DurationS / float64(r.Rounds))
	acked := make([]int64, senders)
	ackLat := make([][]time.Duration, senders)
	errs := make([]int64, senders)
	// sendFor runs the senders for a round. Nothing is sent between rounds.
	sendFor := func(d time.Duration) {
		end := time.Now().Add(d)
		var wg sync.WaitGroup
		for s := range senders {
			wg.Go(func() {
				dev := devs[senderDevice(s, n)]
				conv := convs[senderDevice(s, n)/2]
				sctx, stop := context.WithCancel(ctx) // stopped when the socket goes
				defer stop()
				if r.Rate > 0 {
					// Spread the senders over the interval, as independent
					// users are, rather than all sending at its start.
					time.Sleep(time.Duration(float64(s) / float64(senders) / r.Rate * float64(time.Second)))
				}
				benchPace(sctx, r.Rate, time.Until(end), func() error {
					_, lat, err := dev.sendAndWait(sctx, conv, f.bodySize)
					if err != nil {
						errs[s]++
						if dev.closed() {
							stop()
						}
						return err
					}
					acked[s]++
					ackLat[s] = append(ackLat[s], lat)
					return nil
				})
			})
		}
		wg.Wait()
	}

	// Warm up both sides (connections, prepared statements, stacks), then
	// forget what the warm-up sent: a message counts when sent after it.
	benchProgress(stderr, "messages %d devices: warming up for %s", n, benchWarmUp)
	if _, err := raw.run(ctx, benchWarmUp); err != nil {
		return fmt.Errorf("raw baseline: %w", err)
	}
	sendFor(benchWarmUp)
	time.Sleep(100 * time.Millisecond) // the warm-up's last deliveries
	for s := range senders {
		acked[s], ackLat[s], errs[s] = 0, ackLat[s][:0], 0
	}
	w.set(time.Now(), 365*24*time.Hour)

	var rawTotal, sentTotal int64
	for round := 1; round <= r.Rounds; round++ {
		benchProgress(stderr, "messages %d devices: round %d of %d: raw baseline for %s", n, round, r.Rounds, d)
		rawN, err := raw.run(ctx, d)
		if err != nil {
			return fmt.Errorf("raw baseline: %w", err)
		}
		benchProgress(stderr, "messages %d devices: round %d of %d: %d senders for %s", n, round, r.Rounds, senders, d)
		before := sum(acked)
		cpu := startCPUWatch(t.Child)
		sendFor(d)
		serveCPU, benchCPU := cpu()
		r.ServeCPUS += serveCPU
		r.BenchCPUS += benchCPU
		sentN := sum(acked) - before
		rawTotal += rawN
		sentTotal += sentN
		r.RoundRatios = append(r.RoundRatios, float64(sentN)/float64(rawN))
	}
	time.Sleep(time.Second) // deliveries of the last messages
	closeDevices(devs)

	var all, acks []time.Duration
	var delivered int64
	for s := range senders {
		r.Errors += errs[s]
		acks = append(acks, ackLat[s]...)
	}
	for _, dev := range devs {
		delivered += dev.delivered
		all = append(all, dev.latencies...)
	}
	secs := r.DurationS
	r.RawTxPerS = float64(rawTotal) / secs
	r.SentPerS, r.DeliveredPerS = float64(sentTotal)/secs, float64(delivered)/secs
	r.Ratio = r.SentPerS / r.RawTxPerS
	r.P50MS, r.P99MS = percentileMS(all, 50), percentileMS(all, 99)
	r.AckP50MS, r.AckP99MS = percentileMS(acks, 50), percentileMS(acks, 99)
	return nil
}

func sum(xs []int64) int64 {
	var t int64
	for _, x := range xs {
		t += x
	}
	return t
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

// rawBaseline is the baseline: the bare insert-with-seq transaction of
// postgres.RawSend, one message per transaction, from the same number of
// concurrent senders in the same conversations, on a pool as large as the
// node's, in a scratch schema.
type rawBaseline struct {
	schema   *benchSchema
	accounts []benchAccount
	convs    []string
	used     int // devices in the conversations the senders use
	senders  int
	body     []byte
	next     atomic.Int64 // client IDs
}

func newRawBaseline(ctx context.Context, f *msgBenchFlags, n, senders int) (*rawBaseline, error) {
	s, err := newBenchSchema(ctx, f.databaseURL, int32(f.dbConns))
	if err != nil {
		return nil, err
	}
	b := &rawBaseline{schema: s, used: min(senders, n/2) * 2, senders: senders, body: make([]byte, f.bodySize)}
	if b.accounts, b.convs, err = benchPairs(ctx, newDBSetup(s.Pool), b.used); err != nil {
		s.Drop()
		return nil, err
	}
	return b, nil
}

// run sends for d and returns how many transactions committed.
func (b *rawBaseline) run(ctx context.Context, d time.Duration) (int64, error) {
	counts := make([]int64, b.senders)
	// Senders stop between transactions: cancelling one in flight would
	// make pgx close its connection, and the next round reconnect.
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range b.senders {
		wg.Go(func() {
			a := b.accounts[senderDevice(i, b.used)]
			from := &courier.Device{ID: a.DeviceID, UserID: a.UserID}
			conv := b.convs[senderDevice(i, b.used)/2]
			for time.Now().Before(end) && ctx.Err() == nil {
				clientID := "raw-" + strconv.FormatInt(b.next.Add(1), 10)
				if postgres.RawSend(ctx, b.schema.Pool, from, conv, clientID, b.body) == nil {
					counts[i]++
				}
			}
		})
	}
	wg.Wait()
	if total := sum(counts); total > 0 {
		return total, nil
	}
	return 0, fmt.Errorf("no transaction committed in %s", d)
}

func (b *rawBaseline) Close() { b.schema.Drop() }
