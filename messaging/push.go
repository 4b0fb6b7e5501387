package messaging

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
)

// Pushes run off the send path: Send hands the stored message and its
// members to a bounded queue and returns; a few workers find the members'
// devices that hold no live socket on any node and enqueue a push for each.
// When the queue is full the push is dropped, counted and logged, never
// waited for: a push only wakes an app, and an app syncs when it opens, so
// a lost one costs a notification, while waiting would cost every sender
// its `sent` latency.

// pushBatch is the most messages one worker checks together: one presence
// call and one device query serve them all. A worker that picked up a
// message lingers pushLinger for more: a push may wait that long, and at
// thousands of messages a second it makes batches of dozens rather than a
// few (the device query was 7% of a busy node's CPU, most of it round
// trips).
const (
	pushBatch  = 256
	pushLinger = 20 * time.Millisecond
)

// pushDropLogEvery spaces the warnings about dropped pushes.
const pushDropLogEvery = 10 * time.Second

// pushJob is a stored message and its members at its seq.
type pushJob struct {
	msg     *courier.Message
	members []string
}

// queuePush hands j to the push workers without waiting.
func (s *Service) queuePush(j pushJob) {
	if s.pushq.TryPut(j) {
		return
	}
	n := s.pushesDropped.Add(1)
	now := time.Now().UnixNano()
	if last := s.pushDropLogged.Load(); now-last >= int64(pushDropLogEvery) && s.pushDropLogged.CompareAndSwap(last, now) {
		s.logger.Warn("push: queue full, push dropped (the app syncs when opened)",
			"conversation_id", j.msg.ConversationID, "seq", j.msg.Seq, "dropped_total", n)
	}
}

// pushJobs is a push worker's batch: whatever was queued (up to
// pushBatch messages), checked together, so the busier the node, the
// fewer lookups per message.
func (s *Service) pushJobs(jobs []pushJob) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.pushOffline(ctx, jobs); err != nil {
		s.logger.Error("push: enqueue", "messages", len(jobs), "conversation_id", jobs[0].msg.ConversationID,
			"seq", jobs[0].msg.Seq, "err", err)
	}
}

// pushOffline enqueues a push for every device of every recipient of the
// batch's messages that is not online: one presence call and one device
// query for the whole batch. The sender's own devices are not woken for
// their own message; they get it at their next sync.
func (s *Service) pushOffline(ctx context.Context, batch []pushJob) error {
	seen := map[string]bool{}
	var users []string
	for _, j := range batch {
		for _, m := range j.members {
			if m != j.msg.SenderID && !seen[m] {
				seen[m] = true
				users = append(users, m)
			}
		}
	}
	users, local := s.skipLocal(users)
	if len(users) == 0 {
		return nil // every recipient is online here with every device
	}
	epoch := s.known.start()
	online, err := s.presence.OnlineDevices(ctx, users)
	if err != nil {
		return err
	}
	devices, err := s.devices.DevicesOf(ctx, users)
	if err != nil {
		return err
	}
	offline := map[string][]string{} // user → devices without a socket
	lists := map[string][]string{}   // users with a socket here → devices
	for _, d := range devices {
		if !online[d.ID] {
			offline[d.UserID] = append(offline[d.UserID], d.ID)
		}
		if len(local[d.UserID]) > 0 {
			lists[d.UserID] = append(lists[d.UserID], d.ID)
		}
	}
	s.known.keep(epoch, lists, time.Now())
	if len(offline) == 0 {
		return nil // every device of every recipient is online: the usual case
	}
	// One failed enqueue does not cost the other devices their push.
	var first error
	for _, j := range batch {
		for _, m := range j.members {
			if m == j.msg.SenderID {
				continue
			}
			for _, id := range offline[m] {
				if err := s.push.EnqueuePush(ctx, id, j.msg.ConversationID, j.msg.Seq); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

// skipLocal drops the users all of whose devices hold a socket on this
// node (push_local.go), and returns the rest with the devices each has
// here. It runs under the hub's read lock, allocating only for the users
// it keeps: at thousands of members a second that are all online here,
// this is the whole push check.
func (s *Service) skipLocal(users []string) ([]string, map[string][]string) {
	h := s.local.Load()
	if h == nil {
		return users, nil
	}
	now := time.Now()
	local := map[string][]string{}
	var topic []byte
	s.known.mu.Lock()
	defer s.known.mu.Unlock()
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.DeleteFunc(users, func(u string) bool {
		topic = append(append(topic[:0], "u:"...), u...) // courier.UserTopic, without a string
		socks := h.live(h.topics[string(topic)])
		if len(socks) == 0 {
			return false
		}
		if s.known.allLocal(u, socks, now) {
			return true
		}
		for _, c := range socks {
			if !slices.Contains(local[u], c.dev.ID) {
				local[u] = append(local[u], c.dev.ID)
			}
		}
		return false
	}), local
}

// forgetDevices drops what the push check knows of a user's devices.
func (s *Service) forgetDevices(userID string) { s.known.forget(userID) }

// PushesDropped is how many messages' pushes were dropped because the push
// queue was full.
func (s *Service) PushesDropped() uint64 { return s.pushesDropped.Load() }

// Collectors returns the push queue's metrics, for a Prometheus registry.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "courier_push_dropped_total",
			Help: "Messages whose offline pushes were dropped because the push queue was full.",
		}, func() float64 { return float64(s.pushesDropped.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "courier_push_queue_length",
			Help: "Stored messages waiting for the offline-device check.",
		}, func() float64 { return float64(s.pushq.Len()) }),
	}
}
