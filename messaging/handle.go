package messaging

import (
	"github.com/courier-chat/courier"
)

// maxPresenceWatches bounds the contacts one socket may watch.
const maxPresenceWatches = 1024

// handle answers one client frame. Every frame gets an answer or an error
// frame carrying its request ID; none of these errors closes the socket.
func (c *conn) handle(b []byte) {
	f, err := DecodeFrame(b)
	if err != nil {
		c.fail(f.ID, err)
		return
	}
	switch f.Type {
	case courier.FrameSend:
		c.handleSend(f)
	case courier.FrameSync:
		if err := c.gw.svc.AllowSync(c.dev.ID); err != nil {
			c.fail(f.ID, err)
			return
		}
		var d SyncData
		if len(f.Data) > 0 {
			if err := f.DecodeData(&d); err != nil {
				c.fail(f.ID, err)
				return
			}
		}
		c.enqueue(&outItem{sync: &syncRequest{id: f.ID, cursors: d.Cursors, limit: d.Limit}})
	case courier.FrameReceipt:
		var d ReceiptData
		if err := f.DecodeData(&d); err != nil {
			c.fail(f.ID, err)
			return
		}
		if err := d.validate(); err != nil {
			c.fail(f.ID, err)
			return
		}
		ctx, cancel := c.ctx()
		defer cancel()
		r, _, err := c.gw.svc.UpdateReceipt(ctx, c.dev.UserID, d.ConversationID, d.Kind, d.Seq)
		if err != nil {
			c.fail(f.ID, err)
			return
		}
		c.reply(ServerFrame{Type: courier.FrameOK, ID: f.ID, Data: r})
	case courier.FrameTyping:
		var d TypingData
		if err := f.DecodeData(&d); err != nil {
			c.fail(f.ID, err)
			return
		}
		ctx, cancel := c.ctx()
		defer cancel()
		if err := c.gw.svc.Typing(ctx, c.dev, d.ConversationID, d.State); err != nil {
			c.fail(f.ID, err)
			return
		}
		c.reply(ServerFrame{Type: courier.FrameOK, ID: f.ID})
	case courier.FramePing:
		c.reply(ServerFrame{Type: courier.FramePong, ID: f.ID})
	case courier.FramePresenceSubscribe:
		c.handlePresence(f)
	case courier.FrameMailboxSync, courier.FrameMailboxAck:
		c.handleMailbox(f)
	default:
		c.fail(f.ID, courier.Errorf(courier.EINVALID, "unknown frame type %q", f.Type))
	}
}

func (c *conn) handleSend(f *Frame) {
	var d SendData
	if err := f.DecodeData(&d); err != nil {
		c.fail(f.ID, err)
		return
	}
	// The store validates what is sent (sizes, IDs) for every edge alike.
	ctx, cancel := c.ctx()
	defer cancel()
	msg, created, err := c.gw.svc.SendFrom(ctx, c.dev, courier.SendRequest{
		ConversationID: d.ConversationID, ClientID: d.ClientID, Body: d.Body, Attachments: d.Attachments, Devices: d.Devices,
		Kind: d.Kind, Target: d.TargetSeq, ReplyTo: d.ReplyTo,
	}, c.gw.hub.origin(c))
	if err != nil {
		c.fail(f.ID, err)
		return
	}
	// `sent` is this socket's copy of the message: it is not sent the
	// message frame too, and the writer counts the seq as delivered here.
	c.replyItem(ServerFrame{Type: courier.FrameSent, ID: f.ID, Data: SentData{
		ConversationID: msg.ConversationID, ClientID: msg.ClientID, Seq: msg.Seq, TS: msg.CreatedAt, Duplicate: !created,
	}}, &outItem{conv: msg.ConversationID, seq: msg.Seq, own: true})
}

// handlePresence answers with each contact's presence now and keeps the
// socket told of changes.
func (c *conn) handlePresence(f *Frame) {
	var d PresenceSubscribeData
	if err := f.DecodeData(&d); err != nil {
		c.fail(f.ID, err)
		return
	}
	if len(c.presenceTopics)+len(d.ConversationIDs) > maxPresenceWatches {
		c.fail(f.ID, courier.Errorf(courier.EINVALID, "at most %d presence watches per socket", maxPresenceWatches))
		return
	}
	ctx, cancel := c.ctx()
	defer cancel()
	svc := c.gw.svc
	for _, id := range d.ConversationIDs {
		contact, err := svc.DirectContact(ctx, c.dev.UserID, id)
		if err != nil {
			c.fail(f.ID, err)
			return
		}
		if err := c.gw.hub.watch(ctx, c, contact); err != nil {
			c.fail(f.ID, err)
			return
		}
		ev, err := svc.PresenceOf(ctx, contact)
		if err != nil {
			c.fail(f.ID, err)
			return
		}
		c.reply(ServerFrame{Type: courier.EventPresence, Data: ev})
	}
	c.reply(ServerFrame{Type: courier.FrameOK, ID: f.ID})
}

// fail answers a request with an error frame.
func (c *conn) fail(id string, err error) {
	c.logFailure(err)
	c.reply(errorFrame(id, err))
}

// logFailure logs an error answered to the client: internal ones each,
// outages once per interval (courier.LogFailure).
func (c *conn) logFailure(err error) {
	if code := courier.ErrorCode(err); code == courier.EINTERNAL || code == courier.EUNAVAILABLE {
		courier.LogFailure(c.gw.logger.With("device_id", c.dev.ID), "ws: request failed", err)
	}
}

func (d *ReceiptData) validate() error {
	switch {
	case d.ConversationID == "":
		return courier.Errorf(courier.EINVALID, "conversation_id is required")
	case d.Kind != courier.ReceiptDelivered && d.Kind != courier.ReceiptRead:
		return courier.Errorf(courier.EINVALID, "kind must be delivered or read")
	case d.Seq < 1:
		return courier.Errorf(courier.EINVALID, "seq must be positive")
	}
	return nil
}
