// Package bustest checks implementations of courier.EventBus and
// courier.Presence against the contracts the messaging hub relies on, so
// that the Redis adapter and the in-process one are held to the same
// promises by one test each.
package bustest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

// delivery is one call of a node's handler.
type delivery struct {
	topic string
	e     courier.Event
}

// record sets a handler on n that sends every delivery to the returned
// channel.
func record(n courier.EventBus) chan delivery {
	ch := make(chan delivery, 256)
	n.Handle(func(topic string, e courier.Event) { ch <- delivery{topic, e} })
	return ch
}

func next(t *testing.T, ch chan delivery, topic, typ string) delivery {
	t.Helper()
	select {
	case d := <-ch:
		if d.topic != topic || d.e.Type != typ {
			t.Fatalf("got %s on %s, want %s on %s", d.e.Type, d.topic, typ, topic)
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s on %s", typ, topic)
	}
	return delivery{}
}

func none(t *testing.T, ch chan delivery) {
	t.Helper()
	select {
	case d := <-ch:
		t.Fatalf("unexpected %s on %s", d.e.Type, d.topic)
	case <-time.After(200 * time.Millisecond):
	}
}

// EventBus runs the contract on nodes made by newNodes: two nodes of one
// bus, fresh for each subtest (and closed by newNodes's cleanups).
func EventBus(t *testing.T, newNodes func(t *testing.T) (a, b courier.EventBus)) {
	t.Run("AcrossNodesWithReferenceCounts", func(t *testing.T) {
		a, b := newNodes(t)
		ctx := context.Background()
		cha, chb := record(a), record(b)
		// Two sockets of alice on node B: two references.
		for range 2 {
			if err := b.Subscribe(ctx, courier.UserTopic("alice")); err != nil {
				t.Fatal(err)
			}
		}
		// Subscribe has returned, so a publish right now must arrive.
		must(t, a.Publish(ctx, []string{"alice", "bob"}, event(`{"seq":1}`)))
		next(t, chb, courier.UserTopic("alice"), courier.EventMessage)
		none(t, cha) // node A subscribed to nothing

		b.Unsubscribe(courier.UserTopic("alice"))
		must(t, a.Publish(ctx, []string{"alice"}, event(`{"seq":2}`)))
		next(t, chb, courier.UserTopic("alice"), courier.EventMessage) // one reference left

		b.Unsubscribe(courier.UserTopic("alice"))
		// Unsubscribe need not wait; a Subscribe waits for what came
		// before it, so after this one the unsubscription holds.
		must(t, b.Subscribe(ctx, courier.UserTopic("barrier")))
		must(t, a.Publish(ctx, []string{"alice"}, event(`{"seq":3}`)))
		none(t, chb)

		// Unsubscribe then subscribe again at once: the order holds.
		must(t, b.Subscribe(ctx, courier.PresenceTopic("bob")))
		b.Unsubscribe(courier.PresenceTopic("bob"))
		must(t, b.Subscribe(ctx, courier.PresenceTopic("bob")))
		must(t, a.PublishTopic(ctx, courier.PresenceTopic("bob"), courier.Event{Type: courier.EventPresence}))
		next(t, chb, courier.PresenceTopic("bob"), courier.EventPresence)
	})

	// One publish to several users whose topics the node holds is handed
	// on once per topic, each a repeat of the first (one Data slice), so
	// the hub renders a group message once per node.
	t.Run("RepeatsShareOneEvent", func(t *testing.T) {
		a, b := newNodes(t)
		ctx := context.Background()
		ch := record(b)
		users := []string{"u1", "u2", "u3"}
		for _, u := range users {
			must(t, b.Subscribe(ctx, courier.UserTopic(u)))
		}
		for i, data := range []string{`{"seq":1}`, `{"seq":2}`} {
			e := event(data)
			e.Origin = fmt.Sprint("node.", i)
			must(t, a.Publish(ctx, users, e))
			var first courier.Event
			for j, u := range users {
				d := next(t, ch, courier.UserTopic(u), courier.EventMessage)
				if string(d.e.Data) != data || d.e.Origin != e.Origin {
					t.Fatalf("%s got %s from %q, want %s from %q", u, d.e.Data, d.e.Origin, data, e.Origin)
				}
				if j == 0 {
					first = d.e
				} else if !d.e.Repeats(first) {
					t.Fatalf("the event for %s is not a repeat of the first: the hub would render it again", u)
				}
			}
		}
	})

	// A message is published once: a resend's publish of the same
	// (conversation, seq) goes nowhere and says so; another seq goes out.
	t.Run("PublishMessageOnce", func(t *testing.T) {
		a, b := newNodes(t)
		ctx := context.Background()
		ch := record(b)
		must(t, b.Subscribe(ctx, courier.UserTopic("u")))
		conv := courier.NewID()
		for i, c := range []struct {
			seq  int64
			want bool
		}{{1, true}, {1, false}, {2, true}, {1, false}, {4097, true}, {4097, false}} {
			published, err := a.PublishMessage(ctx, conv, c.seq, []string{"u"}, event(fmt.Sprintf(`{"seq":%d,"try":%d}`, c.seq, i)))
			must(t, err)
			if published != c.want {
				t.Fatalf("publish %d of seq %d: published %v, want %v", i, c.seq, published, c.want)
			}
			if c.want {
				next(t, ch, courier.UserTopic("u"), courier.EventMessage)
			}
		}
		none(t, ch)
		// The same seq in another conversation is another message.
		published, err := a.PublishMessage(ctx, courier.NewID(), 1, []string{"u"}, event(`{"seq":1}`))
		if err != nil || !published {
			t.Fatalf("seq 1 of another conversation: published %v, %v", published, err)
		}
		next(t, ch, courier.UserTopic("u"), courier.EventMessage)
	})

	// The other half: a handler may keep what it was handed, and no later
	// event is taken for it. The bus must neither write to a Data slice it
	// handed on nor reuse its memory for another event.
	t.Run("KeptEventsStayTheirs", func(t *testing.T) {
		a, b := newNodes(t)
		ctx := context.Background()
		ch := record(b)
		must(t, b.Subscribe(ctx, courier.UserTopic("u")))
		const n = 200
		kept := make([]courier.Event, 0, n)
		for i := range n {
			// Same length every time, so a reused buffer would fit.
			must(t, a.Publish(ctx, []string{"u"}, event(fmt.Sprintf(`{"seq":%04d}`, i))))
			kept = append(kept, next(t, ch, courier.UserTopic("u"), courier.EventMessage).e)
		}
		for i, e := range kept {
			if want := fmt.Sprintf(`{"seq":%04d}`, i); string(e.Data) != want {
				t.Fatalf("kept event %d now reads %s, want %s: the bus wrote to a slice it handed on", i, e.Data, want)
			}
			if i > 0 && e.Repeats(kept[i-1]) {
				t.Fatalf("event %d is taken for a repeat of event %d", i, i-1)
			}
		}
	})
}

// Presence runs the contract on p.
func Presence(t *testing.T, p courier.Presence) {
	ctx := context.Background()
	u := courier.NewID()
	if online, _, _ := p.Status(ctx, u); online {
		t.Fatal("online before connecting")
	}
	must(t, p.Connect(ctx, u, "phone"))
	must(t, p.Connect(ctx, u, "tablet"))
	devs, err := p.OnlineDevices(ctx, []string{u, "nobody"})
	if err != nil || !devs["phone"] || !devs["tablet"] || len(devs) != 2 {
		t.Fatalf("online devices = %v, %v", devs, err)
	}
	if still, _ := p.Disconnect(ctx, u, "phone"); !still {
		t.Fatal("tablet still connected: user should be online")
	}
	if still, _ := p.Disconnect(ctx, u, "tablet"); still {
		t.Fatal("no device left: user should be offline")
	}
	online, seen, err := p.Status(ctx, u)
	if err != nil || online || time.Since(seen) > 5*time.Second {
		t.Fatalf("status = %v %v %v, want offline, seen just now", online, seen, err)
	}
}

// event is a message event with data, in a slice of its own.
func event(data string) courier.Event {
	return courier.Event{Type: courier.EventMessage, Data: json.RawMessage(data)}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
