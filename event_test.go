package courier

import (
	"encoding/json"
	"testing"
)

// AppendJSON writes what json.Marshal writes for an Event with compact
// data, without its pass over the data.
func TestEventAppendJSON(t *testing.T) {
	for _, e := range []Event{
		{Type: "message", Data: json.RawMessage(`{"conversation_id":"c1","seq":7}`), Origin: "n1.42"},
		{Type: "typing", Data: json.RawMessage(`{"state":"start"}`)},
		{Type: "resync"},
		{Type: "odd\"type<&>\n", Origin: "é", Data: json.RawMessage(`[1,2]`)},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendJSON([]byte("x")); string(got) != "x"+string(want) {
			t.Errorf("AppendJSON(%q) = %s, want x%s", e.Type, got, want)
		}
	}
}

// Repeats tells the bus handing one event on again from a new event, by
// the identity of Data: equal bytes elsewhere, or the same Data under
// another type or origin, are not repeats.
func TestEventRepeats(t *testing.T) {
	data := json.RawMessage(`{"seq":1}`)
	e := Event{Type: EventMessage, Origin: "n.1", Data: data}
	for _, tc := range []struct {
		name string
		prev Event
		want bool
	}{
		{"handed on again", e, true},
		{"same slice, another variable", Event{Type: EventMessage, Origin: "n.1", Data: data[:len(data):len(data)]}, true},
		{"equal bytes, another slice", Event{Type: EventMessage, Origin: "n.1", Data: json.RawMessage(`{"seq":1}`)}, false},
		{"same slice, another origin", Event{Type: EventMessage, Origin: "n.2", Data: data}, false},
		{"same slice, another type", Event{Type: EventReceipt, Origin: "n.1", Data: data}, false},
		{"a prefix of the slice", Event{Type: EventMessage, Origin: "n.1", Data: data[:4]}, false},
		{"no data", Event{Type: EventMessage, Origin: "n.1"}, false},
	} {
		if got := e.Repeats(tc.prev); got != tc.want {
			t.Errorf("%s: Repeats = %v, want %v", tc.name, got, tc.want)
		}
	}
	if (Event{Type: EventResync}).Repeats(Event{Type: EventResync}) {
		t.Error("events without data are never repeats: nothing identifies them")
	}
}
