package worker_test

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/apns"
	"github.com/courier-chat/courier/apns/apnstest"
	"github.com/courier-chat/courier/fcm"
	"github.com/courier-chat/courier/fcm/fcmtest"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/worker"
)

const topic = "chat.courier.app"

// pushEnv is a real database with two users in a direct conversation, the
// recipient's phone registered with a fake APNs and an X25519 push key.
type pushEnv struct {
	t       *testing.T
	fake    *apnstest.Server
	store   *postgres.PushStore
	msgs    *postgres.MessageStore
	handler *worker.PushHandler
	metrics *worker.PushMetrics
	reg     *prometheus.Registry
	sender  *courier.Device
	phone   *courier.Device
	conv    string
	token   string
	key     hpke.PrivateKey
}

func newPushEnv(t *testing.T) *pushEnv {
	t.Helper()
	db := testenv.NewDB(t)
	ctx := context.Background()
	e := &pushEnv{t: t, fake: apnstest.New(t), store: postgres.NewPushStore(db.Pool),
		msgs: postgres.NewMessageStore(db.Pool, postgres.MessageConfig{}), reg: prometheus.NewRegistry()}
	t.Cleanup(func() { e.msgs.Close() })
	accounts := postgres.NewAccountService(db.Pool)
	_, sender, _, err := accounts.CreateAccount(ctx, "Ada", "phone")
	if err != nil {
		t.Fatal(err)
	}
	_, phone, _, err := accounts.CreateAccount(ctx, "Bob", "phone")
	if err != nil {
		t.Fatal(err)
	}
	e.sender, e.phone = sender, phone
	conv, err := postgres.NewConversationService(db.Pool, postgres.ConversationConfig{}).CreateDirect(ctx, sender.UserID, phone.UserID)
	if err != nil {
		t.Fatal(err)
	}
	e.conv = conv.ID
	e.key, _ = hpke.DHKEM(ecdh.X25519()).GenerateKey()
	e.token = e.fake.AddDevice(topic)
	if err := e.store.RegisterPush(ctx, &courier.PushRegistration{DeviceID: phone.ID, UserID: phone.UserID,
		Service: courier.PushAPNs, Token: e.token, Topic: topic, Environment: courier.PushProduction,
		KEM: courier.PushKEMX25519, PublicKey: e.key.PublicKey().Bytes()}); err != nil {
		t.Fatal(err)
	}
	client, err := apns.New(apns.Config{Key: e.fake.KeyPEM, KeyID: e.fake.KeyID, TeamID: e.fake.TeamID,
		ProductionURL: e.fake.URL, SandboxURL: e.fake.URL, RootCAs: e.fake.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	e.metrics = worker.NewPushMetrics(e.reg)
	e.handler = worker.NewPushHandler(worker.PushConfig{Store: e.store, Senders: map[string]courier.PushSender{courier.PushAPNs: client},
		Metrics: e.metrics, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return e
}

func (e *pushEnv) send(body string) *courier.Message {
	e.t.Helper()
	m, _, err := e.msgs.Send(context.Background(), e.sender, courier.SendRequest{ConversationID: e.conv,
		ClientID: courier.NewID(), Body: []byte(body)})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *pushEnv) task(seq int64) *asynq.Task {
	return asynq.NewTask(worker.TypePushNotify, fmt.Appendf(nil, `{"device_id":%q,"conversation_id":%q,"seq":%d}`, e.phone.ID, e.conv, seq))
}

// open reads a push as the phone's extension does.
func (e *pushEnv) open(n apnstest.Notification) *courier.PushPreview {
	e.t.Helper()
	sealed, err := base64.StdEncoding.DecodeString(n.Payload["sealed"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	priv, _ := e.key.Bytes()
	p, err := courier.OpenPush(courier.PushKEMX25519, priv, sealed)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func TestPushJob_SealedPreviewBadgeCollapse(t *testing.T) {
	e := newPushEnv(t)
	e.send("first")
	m := e.send("Lunch at 1? 🍜")
	if err := e.handler.ProcessTask(context.Background(), e.task(1)); err != nil {
		t.Fatal(err)
	}
	got := e.fake.Accepted()
	if len(got) != 1 {
		t.Fatalf("%d pushes, want 1", len(got))
	}
	n := got[0]
	aps := n.Payload["aps"].(map[string]any)
	if aps["mutable-content"] != float64(1) || aps["badge"] != float64(2) || n.Header.Get("apns-push-type") != "alert" {
		t.Fatalf("aps %v: want mutable-content 1 and badge 2 (unread)", aps)
	}
	if strings.Contains(string(n.Raw), "Lunch") || strings.Contains(string(n.Raw), "Ada") {
		t.Fatalf("plaintext in the push: %s", n.Raw)
	}
	p := e.open(n)
	// The newest message when the job ran, not the one that queued it.
	want := courier.PushPreview{V: 1, Kind: courier.PushMessage, ConversationID: e.conv, Seq: m.Seq, SentAt: m.CreatedAt.UnixMilli(),
		SenderID: e.sender.UserID, SenderName: "Ada", Text: "Lunch at 1? 🍜", Unread: 2}
	if !reflect.DeepEqual(*p, want) {
		t.Fatalf("preview %+v\nwant    %+v", *p, want)
	}
	if c := n.Header.Get("apns-collapse-id"); c == "" || c == e.conv || len(c) > 64 {
		t.Fatalf("collapse id %q: want a per-device hash of the conversation", c)
	}
	if total(t, e.reg, "courier_push_sent_total") != 1 {
		t.Fatal("sent not counted")
	}

	// Muted: a silent update, no alert, no badge.
	if err := e.store.MuteConversation(context.Background(), e.phone.UserID, e.conv, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.handler.ProcessTask(context.Background(), e.task(2)); err != nil {
		t.Fatal(err)
	}
	n = e.fake.Accepted()[1]
	if n.Header.Get("apns-push-type") != "background" || n.Payload["aps"].(map[string]any)["alert"] != nil {
		t.Fatalf("muted conversation got %v %v", n.Header, n.Payload)
	}
	// Read on another device: nothing is sent.
	e.msgs.UpdateReceipt(context.Background(), e.phone.UserID, e.conv, courier.ReceiptRead, m.Seq)
	if err := e.handler.ProcessTask(context.Background(), e.task(2)); err != nil || len(e.fake.Accepted()) != 2 {
		t.Fatalf("pushed a read message: %v, %d pushes", err, len(e.fake.Accepted()))
	}
}

// total sums every series of a metric.
func total(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func TestPushJob_GoneTokenIsRemoved(t *testing.T) {
	for _, gone := range []apnstest.Reply{{Status: 410, Reason: "Unregistered"}, {Status: 400, Reason: "BadDeviceToken"}} {
		t.Run(gone.Reason, func(t *testing.T) {
			e := newPushEnv(t)
			e.send("hello")
			e.fake.Script(gone)
			err := e.handler.ProcessTask(context.Background(), e.task(1))
			if !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("err %v, want a final failure", err)
			}
			if _, err := e.store.PushRegistration(context.Background(), e.phone.ID); courier.ErrorCode(err) != courier.ENOTFOUND {
				t.Fatalf("registration still there after %s: %v", gone.Reason, err)
			}
			if v := total(t, e.reg, "courier_push_tokens_removed_total"); v != 1 {
				t.Fatalf("tokens removed metric %v", v)
			}
		})
	}
}

func TestPushJob_RetriesBackOff(t *testing.T) {
	e := newPushEnv(t)
	e.send("hello")
	for _, tc := range []struct {
		reply      apnstest.Reply
		retryAfter time.Duration
	}{
		{apnstest.Reply{Status: 503, Reason: "ServiceUnavailable"}, 0},
		{apnstest.Reply{Status: 500, Reason: "InternalServerError"}, 0},
		{apnstest.Reply{Status: 429, Reason: "TooManyRequests", RetryAfter: 30}, 30 * time.Second},
	} {
		e.fake.Script(tc.reply)
		err := e.handler.ProcessTask(context.Background(), e.task(1))
		if err == nil || errors.Is(err, asynq.SkipRetry) {
			t.Fatalf("%d %s: err %v, want one asynq retries", tc.reply.Status, tc.reply.Reason, err)
		}
		// asynq asks worker.RetryDelay how long to wait: the provider's
		// Retry-After when it gave one, else exponential with jitter.
		if tc.retryAfter > 0 {
			if d := worker.RetryDelay(0, err, nil); d != tc.retryAfter {
				t.Fatalf("retry delay %v, want Retry-After %v", d, tc.retryAfter)
			}
			continue
		}
		for n := 0; n < 5; n++ {
			lo, hi := time.Second<<n, 2*time.Second<<n // 2 s·2ⁿ, less half for jitter
			if d := worker.RetryDelay(n, err, nil); d < lo || d > hi {
				t.Fatalf("retry %d after %v, want within [%v, %v]", n, d, lo, hi)
			}
		}
	}
	// The registration survives and the next try goes through.
	if err := e.handler.ProcessTask(context.Background(), e.task(1)); err != nil || len(e.fake.Accepted()) != 1 {
		t.Fatalf("after the outage: %v, %d accepted", err, len(e.fake.Accepted()))
	}
}

func TestPushJob_NoRegistrationFallsBack(t *testing.T) {
	e := newPushEnv(t)
	e.send("hello")
	e.store.UnregisterPush(context.Background(), e.phone.ID)
	var got []worker.PushPayload
	h := worker.NewPushHandler(worker.PushConfig{Store: e.store, Fallback: providerFunc(func(p worker.PushPayload) { got = append(got, p) })})
	if err := h.ProcessTask(context.Background(), e.task(1)); err != nil || len(got) != 1 || got[0].DeviceID != e.phone.ID {
		t.Fatalf("fallback got %v (%v)", got, err)
	}
}

type providerFunc func(worker.PushPayload)

func (f providerFunc) Push(_ context.Context, p worker.PushPayload) error { f(p); return nil }

// A burst of 50 messages to an offline phone, through the real queue:
// at most a few pushes, the last showing the newest message.
func TestPushJob_BurstThroughTheQueue(t *testing.T) {
	e := newPushEnv(t)
	opt, err := asynq.ParseRedisURI(testenv.NewRedisDB(t))
	if err != nil {
		t.Fatal(err)
	}
	queue := asynq.NewClient(opt)
	defer queue.Close()
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 2, Queues: map[string]int{worker.QueueCritical: 1},
		RetryDelayFunc: worker.RetryDelay, LogLevel: asynq.FatalLevel, DelayedTaskCheckInterval: 200 * time.Millisecond})
	mux := asynq.NewServeMux()
	mux.Handle(worker.TypePushNotify, e.handler)
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	// The first push meets a 503 and is retried by asynq.
	e.fake.Script(apnstest.Reply{Status: 503, Reason: "ServiceUnavailable"})
	const window = 2 * time.Second
	p := worker.Pusher{Queue: queue, Window: window}
	var last *courier.Message
	for i := 1; i <= 50; i++ {
		last = e.send(fmt.Sprintf("message %d", i))
		if err := p.EnqueuePush(context.Background(), e.phone.ID, e.conv, last.Seq); err != nil {
			t.Fatal(err)
		}
	}
	// Every push is out once the window after the burst has closed and
	// the retried one has had its turn (asynq retries after 1–2 s).
	deadline := time.Now().Add(2*window + 5*time.Second)
	for time.Now().Before(deadline) {
		got := e.fake.Accepted()
		if len(got) > 0 && e.open(got[len(got)-1]).Seq == last.Seq {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(window) // anything still to come would arrive now
	got := e.fake.Accepted()
	if len(got) == 0 || len(got) > 4 {
		t.Fatalf("%d pushes for a burst of 50, want 1 to 4", len(got))
	}
	if r := e.fake.Refused(); len(r) != 1 || r[0].Status != 503 {
		t.Fatalf("refusals %v, want the scripted 503 once", r)
	}
	final := e.open(got[len(got)-1])
	if final.Seq != last.Seq || final.Text != "message 50" || got[len(got)-1].Payload["aps"].(map[string]any)["badge"] != float64(50) {
		t.Fatalf("last push shows seq %d %q, want the 50th message with badge 50", final.Seq, final.Text)
	}
	collapse := got[0].Header.Get("apns-collapse-id")
	for _, n := range got {
		if n.Header.Get("apns-collapse-id") != collapse {
			t.Fatal("pushes of one conversation carry different collapse IDs")
		}
	}
	t.Logf("a burst of 50 became %d pushes", len(got))
}

// FCM: the preview travels as data, and UNREGISTERED removes the token.
func TestPushJob_FCM(t *testing.T) {
	e := newPushEnv(t)
	fake := fcmtest.New(t)
	client, err := fcm.New(fcm.Config{Credentials: fake.Credentials(), URL: fake.URL, RootCAs: fake.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	token := fake.AddDevice()
	ctx := context.Background()
	if err := e.store.RegisterPush(ctx, &courier.PushRegistration{DeviceID: e.phone.ID, UserID: e.phone.UserID,
		Service: courier.PushFCM, Token: token, KEM: courier.PushKEMX25519, PublicKey: e.key.PublicKey().Bytes()}); err != nil {
		t.Fatal(err)
	}
	h := worker.NewPushHandler(worker.PushConfig{Store: e.store, Senders: map[string]courier.PushSender{courier.PushFCM: client},
		Metrics: e.metrics, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.send("ciao")
	if err := h.ProcessTask(ctx, e.task(1)); err != nil {
		t.Fatal(err)
	}
	got := fake.Accepted()
	if len(got) != 1 {
		t.Fatalf("%d FCM messages, want 1", len(got))
	}
	sealed, _ := base64.StdEncoding.DecodeString(got[0].Data["sealed"])
	priv, _ := e.key.Bytes()
	if p, err := courier.OpenPush(courier.PushKEMX25519, priv, sealed); err != nil || p.Text != "ciao" {
		t.Fatalf("FCM preview %+v, %v", p, err)
	}
	fake.Unregister(token)
	if err := h.ProcessTask(ctx, e.task(1)); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("UNREGISTERED: %v, want a final failure", err)
	}
	if _, err := e.store.PushRegistration(ctx, e.phone.ID); courier.ErrorCode(err) != courier.ENOTFOUND {
		t.Fatalf("FCM token not removed: %v", err)
	}
}
