package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
)

// fanoutResult is one run of the fanout scenario. The baseline is Redis
// pub/sub alone doing the fan-out Courier's bus does — one PUBLISH per
// member channel, pipelined, received on one subscriber connection as an
// API node receives it — at the same message rate: every Courier delivery
// rides on it, so the ratios say what storing the message and writing it
// to the sockets add. The raw insert rate would say nothing here: one
// insert makes 500 deliveries, and delivery is the work.
type fanoutResult struct {
	Members        int     `json:"members"`
	Rate           float64 `json:"rate"` // messages/s asked of the sender; 0 = next after each sent
	DurationS      float64 `json:"duration_s"`
	BodyBytes      int     `json:"body_bytes"`
	SentPerS       float64 `json:"sent_per_s"`
	DeliveredPerS  float64 `json:"delivered_per_s"` // to all members' devices, the sender's by its `sent`
	P50MS          float64 `json:"deliver_p50_ms"`  // send to deliver, the other members
	P99MS          float64 `json:"deliver_p99_ms"`
	Missing        int64   `json:"missing"`     // deliveries owed for sent messages and not seen
	ServeCPUS      float64 `json:"serve_cpu_s"` // CPU the node used while the sender sent
	BenchCPUS      float64 `json:"bench_cpu_s"` // CPU the bench's clients used meanwhile
	RedisSentPerS  float64 `json:"redis_published_per_s"`
	RedisPerS      float64 `json:"redis_delivered_per_s"`
	RedisP50MS     float64 `json:"redis_p50_ms"`
	RedisP99MS     float64 `json:"redis_p99_ms"`
	DeliveredRatio float64 `json:"delivered_ratio"` // delivered_per_s / redis_delivered_per_s
	P99Ratio       float64 `json:"p99_ratio"`       // deliver_p99_ms / redis_p99_ms
	LoadAvg        string  `json:"load_average_1m"`
}

func benchFanout(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var f msgBenchFlags
	fs := flag.NewFlagSet("courier bench fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs, cfg)
	members := fs.Int("members", 500, "group members, each online with one device")
	rate := fs.Float64("rate", 20, "messages per second from one sender (20 = the default per-device limit); 0 = the next as soon as the last is sent")
	duration := fs.Duration("duration", 10*time.Second, "how long the sender sends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *members < 2 || *members > 1024 {
		return fmt.Errorf("-members %d: want 2 to 1024 (the group limit)", *members)
	}
	r := &fanoutResult{Members: *members, Rate: *rate, DurationS: duration.Seconds(), BodyBytes: f.bodySize, LoadAvg: loadAverage()}
	benchProgress(stderr, "fanout: Redis pub/sub baseline, %d channels", *members)
	if err := redisFanout(ctx, &f, r, *duration); err != nil {
		return fmt.Errorf("redis baseline: %w", err)
	}
	if err := courierFanout(ctx, &f, r, *duration, stderr); err != nil {
		return err
	}
	r.DeliveredRatio = r.DeliveredPerS / r.RedisPerS
	r.P99Ratio = r.P99MS / r.RedisP99MS
	if f.json {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "fanout: %d-member group, all online, one sender at %s for %.0fs, %d-byte bodies; load %s\n",
		r.Members, fanoutRateText(r.Rate), r.DurationS, r.BodyBytes, r.LoadAvg)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmsgs/s\tdeliveries/s\tp50 ms\tp99 ms\tmissing\t")
	fmt.Fprintf(tw, "redis pub/sub alone\t%.1f\t%.0f\t%.2f\t%.2f\t\t\n", r.RedisSentPerS, r.RedisPerS, r.RedisP50MS, r.RedisP99MS)
	fmt.Fprintf(tw, "courier\t%.1f\t%.0f\t%.2f\t%.2f\t%d\t\n", r.SentPerS, r.DeliveredPerS, r.P50MS, r.P99MS, r.Missing)
	fmt.Fprintf(tw, "ratio\t\t%.2fx\t\t%.2fx\t\t\n", r.DeliveredRatio, r.P99Ratio)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "CPU while sending: courier serve %.1f s, bench clients %.1f s\n", r.ServeCPUS, r.BenchCPUS)
	return nil
}

func fanoutRateText(rate float64) string {
	if rate <= 0 {
		return "full speed (next after sent)"
	}
	return fmt.Sprintf("%g msgs/s", rate)
}

// benchPace runs send until d has passed: at rate per second on a fixed
// schedule, or back to back when rate is 0. It returns how many succeeded.
func benchPace(ctx context.Context, rate float64, d time.Duration, send func() error) int64 {
	start := time.Now()
	var n int64
	for k := 0; ctx.Err() == nil; k++ {
		if rate > 0 {
			next := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
			if !next.Before(start.Add(d)) {
				break
			}
			time.Sleep(time.Until(next))
		} else if time.Since(start) >= d {
			break
		}
		if send() == nil {
			n++
		}
	}
	return n
}

// redisFanout publishes to one channel per member on the schedule the
// Courier sender follows; one subscriber connection receives everything.
func redisFanout(ctx context.Context, f *msgBenchFlags, r *fanoutResult, d time.Duration) error {
	opt, err := redis.ParseURL(f.redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := "courier-bench:" + courier.NewID() + ":"
	channels := make([]string, r.Members)
	for i := range channels {
		channels[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	sub := rdb.Subscribe(ctx, channels...)
	defer sub.Close()
	for seen := 0; seen < len(channels); {
		m, err := sub.Receive(ctx)
		if err != nil {
			return err
		}
		if _, ok := m.(*redis.Subscription); ok {
			seen++
		}
	}
	// The payload is as large as Courier's message event for this body.
	sample, _ := json.Marshal(courier.Event{Type: courier.EventMessage, Data: benchMustJSON(courier.Message{
		ConversationID: courier.NewID(), Seq: 1, SenderID: courier.NewID(), SenderDeviceID: courier.NewID(),
		ClientID: courier.NewID(), Body: make([]byte, f.bodySize), CreatedAt: time.Now()})})
	var w benchWindow
	var lat []time.Duration
	var got int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := sub.ReceiveMessage(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			stamp := int64(binary.BigEndian.Uint64([]byte(m.Payload)))
			if w.in(stamp) {
				got++
				lat = append(lat, now.Sub(time.Unix(0, stamp)))
			}
		}
	}()
	w.set(time.Now(), d)
	sent := benchPace(ctx, r.Rate, d, func() error {
		payload := make([]byte, len(sample))
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		pipe := rdb.Pipeline()
		for _, ch := range channels {
			pipe.Publish(ctx, ch, payload)
		}
		_, err := pipe.Exec(ctx)
		return err
	})
	time.Sleep(time.Second)
	sub.Close()
	<-done
	if sent == 0 {
		return fmt.Errorf("nothing published in %s", d)
	}
	r.RedisSentPerS = float64(sent) / d.Seconds()
	r.RedisPerS = float64(got) / d.Seconds()
	r.RedisP50MS, r.RedisP99MS = percentileMS(lat, 50), percentileMS(lat, 99)
	return nil
}

func benchMustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// courierFanout sends to a group whose members are all connected.
func courierFanout(ctx context.Context, f *msgBenchFlags, r *fanoutResult, d time.Duration, stderr io.Writer) error {
	t, err := newBenchTarget(ctx, f)
	if err != nil {
		return err
	}
	defer t.Close()
	benchProgress(stderr, "fanout: %d accounts and a group", r.Members)
	accounts, err := createAccounts(ctx, t.Setup, "fanout", r.Members)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(accounts)-1)
	for _, a := range accounts[1:] {
		ids = append(ids, a.UserID)
	}
	conv, err := t.Setup.CreateGroup(ctx, accounts[0], ids, false)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	var w benchWindow
	devs, err := dialDevices(ctx, t.URL, accounts, &w)
	if err != nil {
		return err
	}
	benchProgress(stderr, "fanout: sending at %s for %s", fanoutRateText(r.Rate), d)
	sender := devs[0]
	cpu := startCPUWatch(t.Child)
	w.set(time.Now(), d)
	send := func() error { return sender.send(conv, f.bodySize) }
	if r.Rate <= 0 {
		send = func() error { _, _, err := sender.sendAndWait(ctx, conv, f.bodySize); return err }
	}
	benchPace(ctx, r.Rate, d, send)
	r.ServeCPUS, r.BenchCPUS = cpu()
	time.Sleep(time.Second) // the last deliveries
	closeDevices(devs)

	// The sender's socket holds each message by its `sent` answer.
	sent := sender.sentN.Load()
	delivered := sent
	var lat []time.Duration
	for _, dev := range devs {
		delivered += dev.delivered
		lat = append(lat, dev.latencies...)
	}
	r.SentPerS = float64(sent) / d.Seconds()
	r.DeliveredPerS = float64(delivered) / d.Seconds()
	r.Missing = max(0, sent*int64(r.Members)-delivered)
	r.P50MS, r.P99MS = percentileMS(lat, 50), percentileMS(lat, 99)
	return nil
}
