package postgres

import (
	"context"

	"github.com/courier-chat/courier"
)

// UpdateReceipt moves the member's watermark forward. The new value is
// capped at the conversation's last seq, so a client cannot mark messages
// read before they exist; read implies delivered. Both watermarks only
// grow (GREATEST), so receipts arriving out of order are harmless.
func (s *MessageStore) UpdateReceipt(ctx context.Context, userID, conversationID string, kind courier.ReceiptKind, seq int64) (_ courier.Receipt, _ bool, err error) {
	defer outage(&err)
	r := courier.Receipt{ConversationID: conversationID, UserID: userID}
	if kind != courier.ReceiptDelivered && kind != courier.ReceiptRead {
		return r, false, courier.Errorf(courier.EINVALID, "receipt kind must be delivered or read")
	} else if !validID(conversationID) {
		return r, false, errConversationNotFound()
	} else if seq < 0 {
		return r, false, courier.Errorf(courier.EINVALID, "seq must not be negative")
	}
	// The WHERE clause updates only when a watermark moves, so "no row"
	// means either not moved or not a member; the read below tells which.
	err = s.db.QueryRow(ctx, `WITH target AS (
			SELECT LEAST($3, c.last_seq) AS seq FROM conversations c WHERE c.id = $1)
		UPDATE conversation_members m SET
			delivered_seq = GREATEST(m.delivered_seq, t.seq),
			read_seq = CASE WHEN $4 THEN GREATEST(m.read_seq, t.seq) ELSE m.read_seq END
		FROM target t
		WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.removed_seq IS NULL
			AND (t.seq > m.delivered_seq OR ($4 AND t.seq > m.read_seq))
		RETURNING m.delivered_seq, m.read_seq`,
		conversationID, userID, seq, kind == courier.ReceiptRead).Scan(&r.DeliveredSeq, &r.ReadSeq)
	if err == nil {
		return r, true, nil
	} else if !noRows(err) {
		return r, false, err
	}
	err = s.db.QueryRow(ctx, `SELECT delivered_seq, read_seq FROM conversation_members
		WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL`,
		conversationID, userID).Scan(&r.DeliveredSeq, &r.ReadSeq)
	if noRows(err) {
		return r, false, errConversationNotFound()
	}
	return r, false, err
}
