package courier

import "context"

// EventBus carries events between API nodes. Topics are per user:
// UserTopic for events to a user's devices, PresenceTopic for changes of
// their online state. A node subscribes to a topic while it has a socket
// that wants it; Subscribe and Unsubscribe are reference-counted by the
// implementation, so a caller may take one reference per socket.
// Publishers resolve membership and publish to each member's topic: no
// per-conversation subscription exists. How an event travels is the
// implementation's business: redis.EventBus sends a publish to many users
// once per node that holds any of them.
//
// redis.EventBus is the one between nodes; inmem.EventBus connects nodes
// inside one process.
type EventBus interface {
	// Publish sends e to the user topic of each user. The bus may keep
	// e.Data: the caller must not modify it afterwards.
	EventPublisher
	// PublishMessage is Publish for the event of a committed message (seq
	// of the conversation). It publishes only when no PublishMessage of the
	// same message went out before, within a window of minutes at least,
	// and reports whether this one did: a resend of the message then costs
	// no fan-out where the first publish happened. A bus that cannot tell
	// publishes every time (and reports true).
	PublishMessage(ctx context.Context, conversationID string, seq int64, userIDs []string, e Event) (published bool, err error)
	// PublishTopic sends e to one topic, with Publish's terms.
	PublishTopic(ctx context.Context, topic string, e Event) error
	// Subscribe returns once events on topic reach this node's handler: a
	// caller that subscribes and then reads the store misses nothing
	// committed after the read started.
	Subscribe(ctx context.Context, topic string) error
	// Unsubscribe drops one reference taken by Subscribe.
	Unsubscribe(topic string)
	// Handle sets the function that receives every event on this node's
	// topics. It is called before the first Subscribe, once.
	//
	// Repeats: one publish that reaches several of the node's topics (a
	// group message to members with sockets on this node) may be handed
	// to h once per topic as the same Event, sharing one Data slice, so
	// that h can do its per-event work (decoding, rendering a frame)
	// once; e.Repeats(prev) tells such a repeat from a new event. For that
	// to be sound the bus never writes to a Data slice it has handed to h,
	// nor reuses its memory: h may keep the slice, and while it does, an
	// event whose Data starts at the same address is the same publish.
	Handle(h func(topic string, e Event))
}

// UserTopic is the topic of events to a user's devices. User IDs never
// contain ':'.
func UserTopic(userID string) string { return "u:" + userID }

// PresenceTopic is the topic of changes to a user's online state.
func PresenceTopic(userID string) string { return "p:" + userID }
