package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
)

// PushContents is what the push job reads and removes
// (postgres.PushStore).
type PushContents interface {
	PushContent(ctx context.Context, deviceID, conversationID string) (*courier.PushContent, error)
	RemovePushToken(ctx context.Context, deviceID, token string) (bool, error)
}

// PushConfig configures the push job.
type PushConfig struct {
	// Store reads registrations and content; nil sends every push through
	// Fallback, content-free.
	Store PushContents
	// Senders by service (courier.PushAPNs, courier.PushFCM); a service
	// without one falls back.
	Senders map[string]courier.PushSender
	// Fallback takes the pushes of devices with no registration, or whose
	// service is not configured here. Default: log them.
	Fallback Provider
	// FallbackName labels the fallback in metrics ("log", "webhook").
	FallbackName string
	Metrics      *PushMetrics // may be nil
	Logger       *slog.Logger
}

// PushHandler runs push tasks.
type PushHandler struct {
	cfg PushConfig
	now func() time.Time
}

// NewPushHandler returns the handler of TypePushNotify.
func NewPushHandler(cfg PushConfig) *PushHandler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fallback == nil {
		cfg.Fallback, cfg.FallbackName = LogProvider{Logger: cfg.Logger}, "log"
	}
	if cfg.FallbackName == "" {
		cfg.FallbackName = "fallback"
	}
	return &PushHandler{cfg: cfg, now: time.Now}
}

// ProcessTask sends one push. A refusal that retrying cannot fix is
// final (asynq.SkipRetry); a token the provider calls gone is removed.
func (h *PushHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p PushPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeviceID == "" {
		return fmt.Errorf("push: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	if h.cfg.Store == nil {
		return h.fallback(ctx, p)
	}
	c, err := h.cfg.Store.PushContent(ctx, p.DeviceID, p.ConversationID)
	if courier.ErrorCode(err) == courier.ENOTFOUND {
		return h.fallback(ctx, p) // no registration
	} else if err != nil {
		return err
	}
	sender := h.cfg.Senders[c.Registration.Service]
	if sender == nil {
		return h.fallback(ctx, p)
	}
	n, err := BuildNotification(c, h.now())
	if err != nil {
		return fmt.Errorf("push: %v: %w", err, asynq.SkipRetry)
	} else if n == nil {
		h.cfg.Metrics.observeSkipped()
		return nil
	}
	return h.Send(ctx, sender, n)
}

// Send sends n with sender and acts on the answer: metrics, removing a
// gone token, and telling asynq whether to retry. `courier push test`
// sends through it too.
func (h *PushHandler) Send(ctx context.Context, sender courier.PushSender, n *courier.Notification) error {
	r := n.Registration
	err := sender.Send(ctx, n)
	if err == nil {
		latency := -1.0
		if !n.CommittedAt.IsZero() {
			latency = h.now().Sub(n.CommittedAt).Seconds()
		}
		h.cfg.Metrics.observeSent(r.Service, string(n.Kind), latency)
		return nil
	}
	var pe *courier.PushError
	if !errors.As(err, &pe) {
		h.cfg.Metrics.observeFailed(r.Service, "error")
		return err // our side (a key, a context): retried
	}
	h.cfg.Metrics.observeFailed(r.Service, pe.Reason)
	log := h.cfg.Logger.With("device_id", r.DeviceID, "service", r.Service, "status", pe.Status, "reason", pe.Reason)
	switch {
	case pe.TokenGone:
		removed, rerr := false, error(nil)
		if h.cfg.Store != nil {
			removed, rerr = h.cfg.Store.RemovePushToken(ctx, r.DeviceID, r.Token)
		}
		if rerr != nil {
			return rerr // retried: the token must go
		}
		if removed {
			h.cfg.Metrics.observeRemoved(r.Service)
		}
		log.Info("push: token gone, registration removed", "removed", removed)
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	case pe.Retry:
		log.Warn("push: provider asks to retry", "retry_after", pe.RetryAfter.String())
		return err
	default:
		log.Error("push: provider refused the push")
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
}

func (h *PushHandler) fallback(ctx context.Context, p PushPayload) error {
	if err := h.cfg.Fallback.Push(ctx, p); err != nil {
		h.cfg.Metrics.observeFailed(h.cfg.FallbackName, "error")
		return err
	}
	h.cfg.Metrics.observeSent(h.cfg.FallbackName, string(courier.PushMessage), -1)
	return nil
}
