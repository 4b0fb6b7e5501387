package messaging

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/courier-chat/courier"
)

func TestDecodeFrame(t *testing.T) {
	for _, tc := range []struct {
		name, in, wantCode, wantID string
	}{
		{"ok", `{"type":"ping","id":"r1"}`, "", "r1"},
		{"malformed keeps id", `{"id":"r2","type":`, courier.EINVALID, "r2"},
		{"not an object", `[1,2]`, courier.EINVALID, ""},
		{"no type", `{"id":"r3"}`, courier.EINVALID, "r3"},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, courier.EINVALID, ""},
		{"too large", `{"id":"r4","type":"send","data":"` + strings.Repeat("a", MaxFrame) + `"}`, courier.ETOOLARGE, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodeFrame([]byte(tc.in))
			if courier.ErrorCode(err) != tc.wantCode {
				t.Fatalf("code %q (%v), want %q", courier.ErrorCode(err), err, tc.wantCode)
			}
			if f != nil && f.ID != tc.wantID {
				t.Fatalf("id %q, want %q", f.ID, tc.wantID)
			}
		})
	}
	// Data is strict: unknown fields are refused, so typos surface.
	f, _ := DecodeFrame([]byte(`{"type":"typing","data":{"conversation_id":"c","stat":"start"}}`))
	if err := f.DecodeData(&TypingData{}); courier.ErrorCode(err) != courier.EINVALID {
		t.Fatalf("unknown field: %v", err)
	}
	if id := peekID([]byte(`{"type":"send","data":{"x":[1,{"y":2}]},"id":"late"`)); id != "late" {
		t.Fatalf("peekID after nested data = %q", id)
	}
}

// FuzzDecodeFrame feeds untrusted bytes through everything the reader does
// before the store: envelope, data of every type, validation.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"1","data":{"conversation_id":"c","client_id":"k","body":"aGk="}}`,
		`{"type":"sync","data":{"cursors":{"c":3}}}`,
		`{"type":"receipt","data":{"conversation_id":"c","kind":"read","seq":2}}`,
		`{"type":"typing","data":{"conversation_id":"c","state":"start"}}`,
		`{"type":"presence.subscribe","data":{"conversation_ids":["c"]}}`,
		`{"id":"x","type":`, `null`, `{"type":"send","data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		peekID(b)
		if err != nil {
			if fr == nil && courier.ErrorCode(err) != courier.ETOOLARGE {
				t.Fatalf("nil frame with %v", err)
			}
			return
		}
		var send SendData
		if fr.DecodeData(&send) == nil {
			req := courier.SendRequest{ConversationID: send.ConversationID, ClientID: send.ClientID, Body: send.Body, Attachments: send.Attachments}
			if req.Validate() == nil && len(send.Body) > courier.MaxMessageBody {
				t.Fatal("oversized body validated")
			}
		}
		var r ReceiptData
		if fr.DecodeData(&r) == nil && r.validate() == nil && r.Seq < 1 {
			t.Fatal("non-positive seq validated")
		}
		fr.DecodeData(&SyncData{})
		fr.DecodeData(&TypingData{})
		fr.DecodeData(&PresenceSubscribeData{})
	})
}

// eventFrame must write what json.Marshal would, without its second pass
// over the data.
func TestEventFrame(t *testing.T) {
	for _, e := range []courier.Event{
		{Type: courier.EventMessage, Data: json.RawMessage(`{"conversation_id":"c1","seq":7,"body":"aGk="}`)},
		{Type: courier.FrameTyping, Data: json.RawMessage(`{"state":"start"}`)},
		{Type: courier.EventResync},
		{Type: `odd"type`, Data: json.RawMessage(`[1,2]`)},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := eventFrame(e); string(got) != string(want) {
			t.Errorf("eventFrame(%s) = %s, want %s", e.Type, got, want)
		}
	}
}
