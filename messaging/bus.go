package messaging

import (
	"context"

	"github.com/courier-chat/courier"
)

// Bus carries events between API nodes. Topics are per user: UserTopic for
// events to a user's devices, PresenceTopic for changes of their online
// state. A node subscribes to a topic while it has a socket that wants it;
// Subscribe and Unsubscribe are reference-counted by the implementation, so
// the hub may call them once per socket.
type Bus interface {
	// Publish sends e to the user topic of each user (courier.EventPublisher).
	Publish(ctx context.Context, userIDs []string, e courier.Event) error
	// PublishTopic sends e to one topic.
	PublishTopic(ctx context.Context, topic string, e courier.Event) error
	// Subscribe returns once events on topic reach this node's handler: a
	// caller that subscribes and then reads the store misses nothing
	// committed after the read started.
	Subscribe(ctx context.Context, topic string) error
	// Unsubscribe drops one reference taken by Subscribe.
	Unsubscribe(topic string)
	// Handle sets the function that receives every event on this node's
	// topics. It is called before the first Subscribe, once.
	Handle(h func(topic string, e courier.Event))
}

// Topic names. User IDs never contain ':'.
func UserTopic(userID string) string     { return "u:" + userID }
func PresenceTopic(userID string) string { return "p:" + userID }

// EventResync is courier.EventResync.
const EventResync = courier.EventResync
