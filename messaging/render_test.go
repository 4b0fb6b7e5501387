package messaging

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/inmem"
)

// The hub renders an event once however many of its topics the bus hands
// it to (courier.EventBus's repeats), and renders anew whatever is not a
// repeat: the same data from another socket, or equal bytes of another
// publish.
func TestHubRendersRepeatsOnce(t *testing.T) {
	h := newHub(inmem.NewEventBus(), inmem.NewPresence(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	data := json.RawMessage(`{"conversation_id":"c","seq":1}`)
	e := courier.Event{Type: courier.EventMessage, Data: data, Origin: h.node + "1"}
	first := h.render(e)
	if first == nil || first.origin != 1 || first.seq != 1 {
		t.Fatalf("render = %+v", first)
	}
	if again := h.render(e); again != first {
		t.Fatal("a repeat was rendered again")
	}
	other := e
	other.Origin = h.node + "2"
	if it := h.render(other); it == first || it.origin != 2 {
		t.Fatalf("the same data from another socket was taken for a repeat: %+v", it)
	}
	equal := courier.Event{Type: courier.EventMessage, Data: json.RawMessage(string(data)), Origin: h.node + "2"}
	if it := h.render(equal); it == first || it.origin != 2 {
		t.Fatalf("another publish of equal bytes: %+v", it)
	}
}
