package messaging

import (
	"encoding/json"

	"github.com/courier-chat/courier"
)

// Device mailbox frames (courier.FrameMailboxSync, courier.FrameMailboxAck,
// courier.EventMailbox). A device sends mailbox.sync after connecting (the
// server answers its waiting payloads as mailbox frames, then ok with
// "more"), gets new payloads live as mailbox frames, and acknowledges what
// it has processed with mailbox.ack; unacknowledged payloads come again at
// the next mailbox.sync. Only the addressed device's sockets get them.

// MailboxSyncData asks for waiting payloads with id > After.
type MailboxSyncData struct {
	After int64 `json:"after,omitempty"`
	Limit int   `json:"limit,omitempty"` // default and max 100
}

// MailboxAckData names processed payloads.
type MailboxAckData struct {
	IDs []int64 `json:"ids"`
}

// maxMailboxSync bounds one mailbox.sync answer.
const maxMailboxSync = 100

// SetMailbox serves the mailbox frames from m (cmd/courier sets it once,
// before serving).
func (g *Gateway) SetMailbox(m courier.MailboxStore) { g.mailbox = m }

// mailboxDevice reads the recipient device of a mailbox event.
func mailboxDevice(data []byte) string {
	var ref struct {
		DeviceID string `json:"device_id"`
	}
	json.Unmarshal(data, &ref)
	if ref.DeviceID == "" {
		return "-" // never a device ID: such an event reaches nobody
	}
	return ref.DeviceID
}

func (c *conn) handleMailbox(f *Frame) {
	if c.gw.mailbox == nil {
		c.fail(f.ID, courier.Errorf(courier.ENOTFOUND, "this server has no device mailboxes"))
		return
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if f.Type == courier.FrameMailboxAck {
		var d MailboxAckData
		if err := f.DecodeData(&d); err != nil {
			c.fail(f.ID, err)
			return
		}
		n, err := c.gw.mailbox.AckMailbox(ctx, c.dev.ID, d.IDs)
		if err != nil {
			c.fail(f.ID, err)
			return
		}
		c.reply(ServerFrame{Type: courier.FrameOK, ID: f.ID, Data: map[string]int{"deleted": n}})
		return
	}
	var d MailboxSyncData
	if len(f.Data) > 0 {
		if err := f.DecodeData(&d); err != nil {
			c.fail(f.ID, err)
			return
		}
	}
	if d.Limit <= 0 || d.Limit > maxMailboxSync {
		d.Limit = maxMailboxSync
	}
	items, err := c.gw.mailbox.Mailbox(ctx, c.dev.ID, d.After, d.Limit)
	if err != nil {
		c.fail(f.ID, err)
		return
	}
	for _, it := range items {
		c.reply(ServerFrame{Type: courier.EventMailbox, Data: it})
	}
	c.reply(ServerFrame{Type: courier.FrameOK, ID: f.ID, Data: map[string]bool{"more": len(items) == d.Limit}})
}
