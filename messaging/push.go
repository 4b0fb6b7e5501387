package messaging

import (
	"context"
	"time"

	"github.com/courier-chat/courier"
)

// pushWorker enqueues pushes for members' devices that hold no live socket
// on any node. It runs off the send path: a 1,024-member group costs one
// device lookup per member, which must not delay the sender's `sent`.
func (s *Service) pushWorker() {
	defer s.pushers.Done()
	for j := range s.pushq {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := s.pushOffline(ctx, j.msg, j.members); err != nil {
			s.logger.Error("push: enqueue", "conversation_id", j.msg.ConversationID, "seq", j.msg.Seq, "err", err)
		}
		cancel()
	}
}

// pushJob is a stored message and its members at its seq.
type pushJob struct {
	msg     *courier.Message
	members []string
}

func (s *Service) pushOffline(ctx context.Context, msg *courier.Message, members []string) error {
	// The sender's own devices are not woken for their own message; they
	// get it at their next sync.
	var others []string
	for _, m := range members {
		if m != msg.SenderID {
			others = append(others, m)
		}
	}
	online, err := s.presence.OnlineDevices(ctx, others)
	if err != nil {
		return err
	}
	for _, uid := range others {
		devices, err := s.devices.Devices(ctx, uid)
		if err != nil {
			return err
		}
		for _, d := range devices {
			if online[d.ID] {
				continue
			}
			if err := s.push.EnqueuePush(ctx, d.ID, msg.ConversationID, msg.Seq); err != nil {
				return err
			}
		}
	}
	return nil
}
