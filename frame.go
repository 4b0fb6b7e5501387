package courier

// WebSocket frame types: every frame on /v1/ws is {"type", "id", "data"}
// (docs/protocol.md). The server's gateway and the client SDK both name
// frames from here, so each type is spelled once. The frames the server
// pushes unasked (message, receipt, typing, media.ready, …) are the Event
// types of event.go.

// Frames a client sends. Each may carry an id, echoed on its answer.
const (
	// FrameSend {conversation_id, client_id, body, attachments} asks to
	// commit a message; answered by sent.
	FrameSend = "send"
	// FrameSync {cursors, limit} asks for everything after the cursors;
	// answered by message frames, then synced.
	FrameSync = "sync"
	// FrameReceipt {conversation_id, kind, seq} moves a watermark;
	// answered by ok.
	FrameReceipt = "receipt"
	// FrameTyping {conversation_id, state} starts or stops typing;
	// answered by ok.
	FrameTyping = "typing"
	// FramePing is answered by pong: a keepalive the client controls.
	FramePing = "ping"
	// FramePresenceSubscribe {conversation_ids} asks for the presence of
	// direct contacts; answered by ok and presence events.
	FramePresenceSubscribe = "presence.subscribe"
	// FrameMailboxSync {after, limit} asks for the device's waiting
	// mailbox payloads; answered by mailbox frames, then ok.
	FrameMailboxSync = "mailbox.sync"
	// FrameMailboxAck {ids} acknowledges processed mailbox payloads.
	FrameMailboxAck = "mailbox.ack"
)

// Frames the server answers a client's frame with, carrying its id.
const (
	FrameSent   = "sent"   // a send committed: {conversation_id, client_id, seq, ts}
	FrameSynced = "synced" // a sync ended: {cursors, more}
	FramePong   = "pong"   // a ping's answer
	FrameOK     = "ok"     // a receipt, typing or subscription was taken
	FrameError  = "error"  // a request failed: {code, message, retry_after_ms}
)

// WebSocket close codes beyond RFC 6455's (docs/protocol.md, "Close
// codes"). The gateway closes with them and the client SDK acts on them.
const (
	// CloseSlowConsumer: the socket fell its send queue behind. The
	// client reconnects and syncs from its cursors.
	CloseSlowConsumer = 4000
	// CloseRevoked: the device was revoked; its token no longer works.
	CloseRevoked = 4001
	// CloseReplaced: a newer socket of the same device or user took this
	// one's place (the gateway's socket caps). The client should not
	// reconnect by itself: its newer socket is the live one.
	CloseReplaced = 4002
)
