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
