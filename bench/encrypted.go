package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/messaging"
)

// encryptedResult is one run of the encrypted scenario: the same members
// send to a plain and to an encrypted group of the same size, in
// alternating rounds, so the ratio is what encryption costs the server
// and the sender, measured against the plain send on the same machine in
// the same minute.
type encryptedResult struct {
	Members     int       `json:"members"`
	Senders     int       `json:"senders"`
	Online      int       `json:"online"` // connected members, the senders among them
	DurationS   float64   `json:"duration_s"`
	Rounds      int       `json:"rounds"`
	BodyBytes   int       `json:"body_bytes"`
	PlainPerS   float64   `json:"plain_sent_per_s"`     // durable: sent frames
	EncPerS     float64   `json:"encrypted_sent_per_s"` //
	Ratio       float64   `json:"ratio"`                // encrypted / plain
	RoundRatios []float64 `json:"round_ratios"`
	Plain       latencies `json:"plain"`
	Encrypted   latencies `json:"encrypted"`
	Errors      int64     `json:"errors"`
	FirstError  string    `json:"first_error,omitempty"`
	Client      e2eCost   `json:"client"`
	LoadAvg     string    `json:"load_average_1m"`
}

// latencies of one case: send to `sent`, and send to the `message` frame
// at the other online members.
type latencies struct {
	SentP50MS    float64 `json:"sent_p50_ms"`
	SentP99MS    float64 `json:"sent_p99_ms"`
	DeliverP50MS float64 `json:"deliver_p50_ms"`
	DeliverP99MS float64 `json:"deliver_p99_ms"`
}

// benchEncrypted: a group of -members users with one device each, every
// device with an identity key (a recipient of encrypted messages);
// -senders of them send flat out, one message in flight each, for
// -duration split into -rounds of plain then encrypted. An encrypted send
// is what the SDK sends: the body sealed by the sender's chain (AES-GCM
// and an Ed25519 signature, done in the measured loop), naming every
// other member's device, which the server checks.
func benchEncrypted(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	var f msgBenchFlags
	fs := flag.NewFlagSet("courier bench encrypted", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f.bind(fs, cfg)
	members := fs.Int("members", 500, "group members, one device each, every device with keys")
	senders := fs.Int("senders", 8, "members sending, one message in flight each")
	online := fs.Int("online", 8, "members connected (the senders first); the others are offline, as most phones of a large group are")
	duration := fs.Duration("duration", 20*time.Second, "how long the senders send, plain and encrypted together")
	rounds := fs.Int("rounds", 4, "rounds of plain then encrypted, so drift in the machine's speed hits both alike")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *members < 2 || *members > 1024:
		return fmt.Errorf("-members %d: want 2 to 1024 (the group limit)", *members)
	case *senders < 1 || *senders > *members:
		return fmt.Errorf("-senders %d: want 1 to -members", *senders)
	case *online < *senders || *online > *members:
		return fmt.Errorf("-online %d: want -senders to -members", *online)
	case *rounds < 1:
		return fmt.Errorf("-rounds %d: want at least 1", *rounds)
	}
	r := &encryptedResult{Members: *members, Senders: *senders, Online: *online, DurationS: duration.Seconds(),
		Rounds: *rounds, BodyBytes: f.bodySize, LoadAvg: loadAverage()}
	benchProgress(stderr, "encrypted: the client's costs")
	var err error
	if r.Client, err = measureE2ECost(f.bodySize); err != nil {
		return err
	}
	if err := runEncrypted(ctx, &f, r, stderr); err != nil {
		return err
	}
	if f.json {
		return printJSON(stdout, r)
	}
	return printEncrypted(stdout, r)
}

// runEncrypted sets up the accounts, their identity keys and the two
// groups, starts the node, and alternates the rounds.
func runEncrypted(ctx context.Context, f *msgBenchFlags, r *encryptedResult, stderr io.Writer) error {
	t, err := newBenchTarget(ctx, f)
	if err != nil {
		return err
	}
	defer t.Close()
	benchProgress(stderr, "encrypted: %d accounts with identity keys, a plain and an encrypted group", r.Members)
	accounts, err := createAccounts(ctx, t.Setup, "e2e", r.Members)
	if err != nil {
		return err
	}
	err = benchParallel(ctx, len(accounts), 16, func(ctx context.Context, i int) error {
		return t.Setup.PutIdentity(ctx, accounts[i], e2e.NewIdentity().Public())
	})
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(accounts)-1)
	for _, a := range accounts[1:] {
		ids = append(ids, a.UserID)
	}
	plainConv, err := t.Setup.CreateGroup(ctx, accounts[0], ids, false)
	if err != nil {
		return err
	}
	encConv, err := t.Setup.CreateGroup(ctx, accounts[0], ids, true)
	if err != nil {
		return err
	}
	if err := t.Start(ctx); err != nil {
		return err
	}
	var w benchWindow
	devs, err := dialDevicesBy(ctx, t.URL, accounts[:r.Online], &w, true)
	if err != nil {
		return err
	}
	defer closeDevices(devs)

	// Each sender's recipients: every other member's device, sorted, as
	// the SDK names them; and a chain of its own.
	all := make([]string, len(accounts))
	for i, a := range accounts {
		all[i] = a.DeviceID
	}
	slices.Sort(all)
	senders := make([]*e2eSender, r.Senders)
	for s := range senders {
		senders[s] = &e2eSender{dev: devs[s], chain: e2e.NewSenderChain(),
			recipients: slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == devs[s].DeviceID })}
	}
	var firstErr atomic.Value
	run := func(encrypted bool, d time.Duration) (sent int64, acks []time.Duration, errs int64) {
		conv := plainConv
		if encrypted {
			conv = encConv
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for _, s := range senders {
			wg.Go(func() {
				var n, failed int64
				var lat []time.Duration
				for time.Now().Before(end) && ctx.Err() == nil {
					l, err := s.send(ctx, conv, encrypted, f.bodySize)
					if err != nil {
						failed++
						firstErr.CompareAndSwap(nil, err.Error())
						if s.dev.closed() {
							break
						}
						continue
					}
					n++
					lat = append(lat, l)
				}
				mu.Lock()
				sent, errs, acks = sent+n, errs+failed, append(acks, lat...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return sent, acks, errs
	}

	benchProgress(stderr, "encrypted: warming up both for %s", benchWarmUp)
	run(false, benchWarmUp/2)
	run(true, benchWarmUp/2)
	time.Sleep(100 * time.Millisecond)
	// A delivery counts when its message was sent after the warm-up.
	w.set(time.Now(), 365*24*time.Hour)
	d := time.Duration(float64(time.Second) * r.DurationS / 2 / float64(r.Rounds))
	var plainN, encN int64
	var plainAcks, encAcks []time.Duration
	for round := 1; round <= r.Rounds; round++ {
		benchProgress(stderr, "encrypted: round %d of %d: plain for %s", round, r.Rounds, d)
		pn, acks, errs := run(false, d)
		plainN, plainAcks, r.Errors = plainN+pn, append(plainAcks, acks...), r.Errors+errs
		benchProgress(stderr, "encrypted: round %d of %d: encrypted for %s", round, r.Rounds, d)
		en, acks, errs := run(true, d)
		encN, encAcks, r.Errors = encN+en, append(encAcks, acks...), r.Errors+errs
		r.RoundRatios = append(r.RoundRatios, float64(en)/float64(max(1, pn)))
	}
	time.Sleep(time.Second) // the last deliveries
	closeDevices(devs)
	var plainDeliver, encDeliver []time.Duration
	for _, dev := range devs {
		plainDeliver = append(plainDeliver, dev.byConv[plainConv]...)
		encDeliver = append(encDeliver, dev.byConv[encConv]...)
	}
	half := r.DurationS / 2
	r.PlainPerS, r.EncPerS = float64(plainN)/half, float64(encN)/half
	if r.PlainPerS > 0 {
		r.Ratio = r.EncPerS / r.PlainPerS
	}
	r.Plain = latencies{percentileMS(plainAcks, 50), percentileMS(plainAcks, 99), percentileMS(plainDeliver, 50), percentileMS(plainDeliver, 99)}
	r.Encrypted = latencies{percentileMS(encAcks, 50), percentileMS(encAcks, 99), percentileMS(encDeliver, 50), percentileMS(encDeliver, 99)}
	if e, ok := firstErr.Load().(string); ok {
		r.FirstError = e
	}
	if plainN == 0 || encN == 0 {
		return fmt.Errorf("nothing sent (plain %d, encrypted %d, errors %d, the first: %s)", plainN, encN, r.Errors, r.FirstError)
	}
	return nil
}

// e2eSender is one sending member: its socket, its chain of the
// encrypted group, and the devices it names.
type e2eSender struct {
	dev        *wsDevice
	chain      *e2e.SenderChain
	recipients []string
}

// send sends one message and waits for `sent`; it returns the time from
// before the encryption to the answer.
func (s *e2eSender) send(ctx context.Context, conv string, encrypted bool, bodySize int) (time.Duration, error) {
	start := time.Now()
	d := s.dev
	body := make([]byte, bodySize)
	id := d.clientID(strconv.FormatInt(d.nextID.Add(1), 10), start.UnixNano())
	req := messaging.SendData{ConversationID: conv, ClientID: id, Body: body}
	if encrypted {
		req.Body = s.chain.Encrypt(conv, d.DeviceID, body)
		req.Devices = s.recipients
	}
	data, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := d.conn.Request(ctx, courier.FrameSend, json.RawMessage(data)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// e2eCost is what encryption costs a client, measured in this process on
// one core: per message, per recipient device when a chain starts, and
// per MiB of media.
type e2eCost struct {
	EncryptUS     float64 `json:"encrypt_message_us"` // HKDF step, AES-256-GCM, Ed25519 signature
	DecryptUS     float64 `json:"decrypt_message_us"` // signature check first
	SealXWingUS   float64 `json:"seal_xwing_us"`      // a sender key to one device
	SealX25519US  float64 `json:"seal_x25519_us"`
	MediaMSPerMiB float64 `json:"media_ms_per_mib"` // EncryptMedia, 64 KiB chunks
	MediaMBPerS   float64 `json:"media_mb_per_s"`
}

// costBudget is how long each client cost is measured.
const costBudget = 500 * time.Millisecond

// perOp runs f until costBudget has passed and returns µs per call.
func perOp(f func() error) (float64, error) {
	start := time.Now()
	n := 0
	for ; n < 3 || time.Since(start) < costBudget; n++ {
		if err := f(); err != nil {
			return 0, err
		}
	}
	return float64(time.Since(start).Microseconds()) / float64(n), nil
}

func measureE2ECost(bodySize int) (e2eCost, error) {
	var c e2eCost
	const conv, from, to = "bench-conversation", "bench-sender", "bench-recipient"
	body := make([]byte, bodySize)
	chain := e2e.NewSenderChain()
	reader := e2e.NewReceiverChain(conv, from, chain.Key())
	var err error
	if c.EncryptUS, err = perOp(func() error { chain.Encrypt(conv, from, body); return nil }); err != nil {
		return c, err
	}
	// Decrypt in order from where the reader stands: encrypt ahead of
	// time, outside the measurement.
	chain = e2e.NewSenderChain()
	reader = e2e.NewReceiverChain(conv, from, chain.Key())
	envs := make([][]byte, 0, 4096)
	for range cap(envs) {
		envs = append(envs, chain.Encrypt(conv, from, body))
	}
	start := time.Now()
	for _, env := range envs {
		if _, err := reader.Decrypt(env); err != nil {
			return c, err
		}
	}
	c.DecryptUS = float64(time.Since(start).Microseconds()) / float64(len(envs))
	id := e2e.NewIdentity()
	for _, kem := range courier.KEMs {
		p, err := id.NewPrekey(kem, courier.PrekeyOneTime, 1)
		if err != nil {
			return c, err
		}
		us, err := perOp(func() error { _, err := id.SealSenderKey(conv, from, to, &p.Public, chain.Key()); return err })
		if err != nil {
			return c, err
		}
		if kem == courier.KEMXWing {
			c.SealXWingUS = us
		} else {
			c.SealX25519US = us
		}
	}
	const mib = 1 << 20
	media := make([]byte, 16*mib)
	us, err := perOp(func() error {
		key := e2e.NewMediaKey()
		key.Size = int64(len(media))
		return e2e.EncryptMedia(&key, bytes.NewReader(media), io.Discard)
	})
	if err != nil {
		return c, err
	}
	c.MediaMSPerMiB = us / 1000 / 16
	c.MediaMBPerS = float64(len(media)) / us // bytes per µs = MB/s
	return c, nil
}

func printEncrypted(w io.Writer, r *encryptedResult) error {
	fmt.Fprintf(w, "encrypted: %d-member group (one device each, all with keys), %d senders flat out, %d members online, %d-byte bodies, %.0fs in %d rounds; load %s\n",
		r.Members, r.Senders, r.Online, r.BodyBytes, r.DurationS, r.Rounds, r.LoadAvg)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tdurable msgs/s\tsent p50 ms\tsent p99 ms\tdeliver p50 ms\tdeliver p99 ms\t")
	for _, c := range []struct {
		name string
		rate float64
		l    latencies
	}{{"plain", r.PlainPerS, r.Plain}, {"encrypted", r.EncPerS, r.Encrypted}} {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", c.name, c.rate, c.l.SentP50MS, c.l.SentP99MS, c.l.DeliverP50MS, c.l.DeliverP99MS)
	}
	fmt.Fprintf(tw, "ratio\t%.2fx\t\t\t\t\t\n", r.Ratio)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "round ratios %s; errors %d %s\n", ratiosText(r.RoundRatios), r.Errors, r.FirstError)
	c := r.Client
	fmt.Fprintf(w, "client, one core: encrypt a message %.0f µs, decrypt one %.0f µs; seal a sender key to a device %.0f µs (X-Wing), %.0f µs (X25519); media %.2f ms per MiB (%.0f MB/s)\n",
		c.EncryptUS, c.DecryptUS, c.SealXWingUS, c.SealX25519US, c.MediaMSPerMiB, c.MediaMBPerS)
	return nil
}
