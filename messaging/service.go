package messaging

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/batch"
)

// DeviceLister lists the live devices of several users at once
// (postgres.AccountService has it).
type DeviceLister interface {
	DevicesOf(ctx context.Context, userIDs []string) ([]*courier.Device, error)
}

// PushEnqueuer queues a content-free push for an offline device
// (worker.Pusher in production).
type PushEnqueuer interface {
	EnqueuePush(ctx context.Context, deviceID, conversationID string, seq int64) error
}

// MemberSender is a courier.MessageStore that also returns, read in the
// transaction that stored the message, the conversation's members at its
// seq (postgres.MessageStore has it). The Service then fans out without a
// membership query per message; members is nil when nothing was stored.
type MemberSender interface {
	SendWithMembers(ctx context.Context, from *courier.Device, req courier.SendRequest) (msg *courier.Message, members []string, created bool, err error)
}

// Config holds the limits of the messaging core.
type Config struct {
	// SendRate is messages per device per second. Default 20.
	SendRate float64
	// SendBurst is the bucket size for sends. Default 40.
	SendBurst int
	// TypingRate is typing frames per device per second. Default 5.
	TypingRate float64
	// TypingBurst is the bucket size for typing frames. Default 10.
	TypingBurst int
	// PushWorkers compute offline devices and enqueue pushes off the send
	// path, each checking up to 256 queued messages at once. Default 2.
	PushWorkers int
	// PublishWait bounds how long a send waits, after the commit, for
	// the event bus to take the message before answering `sent`: a
	// message Redis could not take reaches the members by resync and
	// gap-fill, so a Redis outage must not hold every send. Default 500 ms.
	PublishWait time.Duration
	// PushQueue is how many stored messages may wait for the push check;
	// beyond it pushes are dropped (counted in
	// courier_push_dropped_total), never waited for. Default 4096.
	PushQueue int
}

func (c *Config) defaults() {
	if c.SendRate == 0 {
		c.SendRate = 20
	}
	if c.SendBurst == 0 {
		c.SendBurst = 40
	}
	if c.TypingRate == 0 {
		c.TypingRate = 5
	}
	if c.TypingBurst == 0 {
		c.TypingBurst = 10
	}
	if c.PushWorkers == 0 {
		c.PushWorkers = 2
	}
	if c.PushQueue == 0 {
		c.PushQueue = 4096
	}
	if c.PublishWait == 0 {
		c.PublishWait = 500 * time.Millisecond
	}
}

// Typing timing: a relayed start is shown for TypingTTL unless refreshed,
// and refreshes are relayed at most once per TypingRelayEvery per user and
// conversation (per node).
const (
	TypingTTL        = 6 * time.Second
	TypingRelayEvery = time.Second
)

// Service decorates a courier.MessageStore: what the store commits is
// published to every member's devices, offline devices get a push job, and
// receipts reach the other members. HTTP and WebSocket sends both go
// through it, so both get the same fan-out and limits.
type Service struct {
	store    courier.MessageStore
	convs    courier.ConversationService
	bus      courier.EventBus
	presence courier.Presence
	devices  DeviceLister
	push     PushEnqueuer
	logger   *slog.Logger
	pubWait  time.Duration

	sendLimit   *Limiter
	typingLimit *Limiter
	typingRelay *Limiter
	syncLimit   *Limiter
	pushq       *batch.Queue[pushJob]

	// local is the gateway's hub, once there is one: the push check
	// skips members online on this node (push_local.go).
	local atomic.Pointer[hub]
	known knownDevices

	pushesDropped  atomic.Uint64
	pushDropLogged atomic.Int64 // unix ns of the last warning about drops
}

var _ courier.MessageStore = (*Service)(nil)

// NewService returns a Service; Close stops its push workers. push may be
// nil (no pushes).
func NewService(cfg Config, store courier.MessageStore, convs courier.ConversationService, bus courier.EventBus,
	presence courier.Presence, devices DeviceLister, push PushEnqueuer, logger *slog.Logger) *Service {
	cfg.defaults()
	if logger == nil {
		logger = slog.Default()
	}
	s := &Service{
		store: store, convs: convs, bus: bus, presence: presence, devices: devices, push: push,
		logger:      logger,
		pubWait:     cfg.PublishWait,
		sendLimit:   NewLimiter(cfg.SendRate, cfg.SendBurst),
		typingLimit: NewLimiter(cfg.TypingRate, cfg.TypingBurst),
		typingRelay: NewLimiter(1/TypingRelayEvery.Seconds(), 1),
		syncLimit:   NewLimiter(SyncRate, SyncBurst),
	}
	s.pushq = batch.NewQueue(batch.Options{Size: cfg.PushQueue, Workers: cfg.PushWorkers, Max: pushBatch, Linger: pushLinger}, s.pushJobs)
	return s
}

// Close stops the push workers after the queued pushes are enqueued.
func (s *Service) Close() { s.pushq.Close() }

// Sync frames per device: a sync reads every conversation's head and pages
// of history, so a client looping on it must not load the database. A
// client needs one per connect (and per "more" or resync).
const (
	SyncRate  = 1.0 // per second
	SyncBurst = 5
)

// AllowSync reports whether the device may sync now (ERATELIMIT if not).
func (s *Service) AllowSync(deviceID string) error {
	if ok, wait := s.syncLimit.Allow(deviceID); !ok {
		return rateLimited("sync requests", wait)
	}
	return nil
}

func rateLimited(what string, wait time.Duration) error {
	return &courier.Error{Code: courier.ERATELIMIT, Message: "too many " + what + "; retry later", RetryAfter: wait}
}

// Send stores the message, then publishes it to every member (the sender's
// other devices included) before returning, so an acknowledged message is
// already on its way. A resend with the same client ID returns the original
// message and publishes it again, without pushes, only if the first
// publish may not have happened (courier.EventBus.PublishMessage): if the
// first attempt's node died between commit and publish, the resend
// finishes the job; otherwise it costs no fan-out.
func (s *Service) Send(ctx context.Context, from *courier.Device, req courier.SendRequest) (*courier.Message, bool, error) {
	return s.SendFrom(ctx, from, req, "")
}

// SendFrom is Send for a request that came over a socket: origin names it
// (the event's Origin), and every socket but that one gets the message.
func (s *Service) SendFrom(ctx context.Context, from *courier.Device, req courier.SendRequest, origin string) (*courier.Message, bool, error) {
	if ok, wait := s.sendLimit.Allow(from.ID); !ok {
		return nil, false, rateLimited("messages", wait)
	}
	var msg *courier.Message
	var members []string
	var created bool
	var err error
	if ms, ok := s.store.(MemberSender); ok {
		msg, members, created, err = ms.SendWithMembers(ctx, from, req)
	} else {
		msg, created, err = s.store.Send(ctx, from, req)
	}
	if err != nil {
		return nil, false, err
	}
	// The message is committed: fan-out must not be cut short by the
	// client going away.
	ctx = context.WithoutCancel(ctx)
	if members == nil {
		// A resend, or a store that does not report members: ask.
		if members, err = s.convs.MemberIDs(ctx, msg.ConversationID); err != nil {
			courier.LogFailure(s.logger, "fan-out: members", err)
			return msg, created, nil
		}
	}
	data, _ := json.Marshal(msg)
	// Members the bus could not reach get it by resync (their node's
	// Redis connection dropped too) or when a later message reveals the
	// gap. The bus publishes a message once: a resend whose first publish
	// went out costs no fan-out.
	pctx, cancel := context.WithTimeout(ctx, s.pubWait)
	_, err = s.bus.PublishMessage(pctx, msg.ConversationID, msg.Seq, members,
		courier.Event{Type: courier.EventMessage, Data: data, Origin: origin})
	cancel()
	if err != nil {
		courier.LogFailure(s.logger, "fan-out: publish", courier.Unavailable("event bus", err))
	}
	if created && s.push != nil {
		s.queuePush(pushJob{msg: msg, members: members})
	}
	return msg, created, nil
}

// Messages reads history; nothing to add.
func (s *Service) Messages(ctx context.Context, userID, conversationID string, after, before int64, limit int) ([]*courier.Message, error) {
	return s.store.Messages(ctx, userID, conversationID, after, before, limit)
}

// UpdateReceipt stores the watermark and, when it moved, tells every
// member's devices: the others see delivered/read, the reader's other
// devices clear their unread state.
func (s *Service) UpdateReceipt(ctx context.Context, userID, conversationID string, kind courier.ReceiptKind, seq int64) (courier.Receipt, bool, error) {
	r, moved, err := s.store.UpdateReceipt(ctx, userID, conversationID, kind, seq)
	if err != nil || !moved {
		return r, moved, err
	}
	ctx = context.WithoutCancel(ctx)
	members, err := s.convs.MemberIDs(ctx, conversationID)
	if err != nil {
		courier.LogFailure(s.logger, "receipt fan-out: members", err)
		return r, moved, nil
	}
	data, _ := json.Marshal(r)
	s.publish(ctx, "receipt fan-out", members, courier.Event{Type: courier.EventReceipt, Data: data})
	return r, moved, nil
}

// publish hands a committed change's event to the bus, waiting at most
// PublishWait; a failure is logged (once per interval while Redis is down)
// and left to resync and gap-fill.
func (s *Service) publish(ctx context.Context, what string, members []string, e courier.Event) {
	ctx, cancel := context.WithTimeout(ctx, s.pubWait)
	defer cancel()
	if err := s.bus.Publish(ctx, members, e); err != nil {
		courier.LogFailure(s.logger, what, courier.Unavailable("event bus", err))
	}
}

// Typing relays a typing state to the other members' online devices. It is
// never stored. A start within TypingRelayEvery of the last relayed one is
// absorbed (receivers still show the earlier one); stops always go out.
func (s *Service) Typing(ctx context.Context, from *courier.Device, conversationID, state string) error {
	if state != "start" && state != "stop" {
		return courier.Errorf(courier.EINVALID, "typing state must be start or stop")
	}
	if ok, wait := s.typingLimit.Allow(from.ID); !ok {
		return rateLimited("typing events", wait)
	}
	members, err := s.convs.MemberIDs(ctx, conversationID)
	if err != nil {
		return err
	}
	if !slices.Contains(members, from.UserID) {
		return courier.Errorf(courier.ENOTFOUND, "conversation not found")
	}
	if state == "start" {
		if ok, _ := s.typingRelay.Allow(from.UserID + "/" + conversationID); !ok {
			return nil
		}
	}
	ev := TypingEvent{ConversationID: conversationID, UserID: from.UserID, State: state}
	if state == "start" {
		ev.ExpiresInMS = TypingTTL.Milliseconds()
	}
	others := slices.DeleteFunc(members, func(id string) bool { return id == from.UserID })
	data, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(ctx, s.pubWait)
	defer cancel()
	return s.bus.Publish(ctx, others, courier.Event{Type: courier.EventTyping, Data: data})
}

// DirectContact returns the other member of a direct conversation the user
// belongs to: the only users whose presence they may watch.
func (s *Service) DirectContact(ctx context.Context, userID, conversationID string) (string, error) {
	c, err := s.convs.Conversation(ctx, userID, conversationID)
	if err != nil {
		return "", err
	}
	if c.Kind != courier.ConversationDirect {
		return "", courier.Errorf(courier.EINVALID, "presence is for direct conversations only")
	}
	for _, m := range c.Members {
		if m.UserID != userID {
			return m.UserID, nil
		}
	}
	return "", courier.Errorf(courier.ENOTFOUND, "conversation has no other member")
}

// PresenceOf is a user's presence event, now.
func (s *Service) PresenceOf(ctx context.Context, userID string) (PresenceEvent, error) {
	online, seen, err := s.presence.Status(ctx, userID)
	ev := PresenceEvent{UserID: userID, Online: online}
	if !seen.IsZero() && !online {
		ev.LastSeen = &seen
	}
	return ev, err
}

// Heads and Conversations pass through for sync.
func (s *Service) heads(ctx context.Context, userID string) ([]courier.ConversationHead, error) {
	return s.convs.Heads(ctx, userID)
}
