package inmem_test

import (
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/inmem"
	"github.com/courier-chat/courier/internal/bustest"
)

// The contract redis.EventBus and redis.Presence pass too.
func TestEventBus_Contract(t *testing.T) {
	bustest.EventBus(t, func(t *testing.T) (courier.EventBus, courier.EventBus) {
		broker := inmem.NewBroker()
		return broker.Node(), broker.Node()
	})
}

func TestPresence_Contract(t *testing.T) {
	bustest.Presence(t, inmem.NewPresence())
}
