package redis

import (
	"strings"
	"testing"

	"github.com/courier-chat/courier"
)

// FuzzDecodeEvent: any payload on a channel decodes or is refused without
// a panic, and every event a node publishes reads back as it was.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("message", "node.7", `{"seq":1}`)
	f.Add("resync", "", "")
	f.Add("{", "", `{"type":"message","data":{"seq":3}}`)
	f.Fuzz(func(t *testing.T, typ, origin, data string) {
		decodeEvent(typ)
		decodeEvent(typ + "\n" + origin)
		decodeEvent(data)
		if typ == "" || strings.ContainsRune(typ+origin, '\n') || strings.HasPrefix(typ, "{") {
			return // not something a node publishes
		}
		e := courier.Event{Type: typ, Origin: origin, Data: []byte(data)}
		got, err := decodeEvent(encodeEvent(e))
		if err != nil || got.Type != e.Type || got.Origin != e.Origin || string(got.Data) != data {
			t.Fatalf("round trip of %+v: %+v, %v", e, got, err)
		}
	})
}
