package redis

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/courier-chat/courier"
)

// FuzzDecodeEvent: any payload on a channel decodes or is refused without
// a panic; every event reads back as it was published, and as
// encoding/json reads the same payload.
func FuzzDecodeEvent(f *testing.F) {
	f.Add("message", "node.7", `{"seq":1}`)
	f.Add("resync", "", "")
	f.Add("ty\"pe", "o\n", `[1,2]`)
	f.Add("message", "", `{"type":"message","data":{"seq":3}}`)
	f.Fuzz(func(t *testing.T, typ, origin, data string) {
		decodeEvent(data)
		if typ == "" || !utf8.ValidString(typ) || !utf8.ValidString(origin) || !json.Valid([]byte(data)) {
			return // what nodes publish: a type, and data from json.Marshal
		}
		compact := data
		if data != "" {
			var c []byte
			if c, _ = json.Marshal(json.RawMessage(data)); string(c) != data {
				return // not compact, as json.Marshal output is
			}
		}
		e := courier.Event{Type: typ, Origin: origin, Data: []byte(compact)}
		p := encodeEvent(e)
		got, err := decodeEvent(p)
		if err != nil || got.Type != e.Type || got.Origin != e.Origin || string(got.Data) != compact {
			t.Fatalf("round trip of %+v through %s: %+v, %v", e, p, got, err)
		}
		var std courier.Event
		if err := json.Unmarshal([]byte(p), &std); err != nil || std.Type != got.Type || std.Origin != got.Origin || string(std.Data) != string(got.Data) {
			t.Fatalf("encoding/json reads %s as %+v, %v; the fast path as %+v", p, std, err, got)
		}
	})
}
