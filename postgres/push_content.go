package postgres

import (
	"context"
	"time"

	"github.com/courier-chat/courier"
)

// pushBodyBytes is how much of a body PushContent reads: enough for the
// longest excerpt and the character it may cut into, never a whole 64 KiB
// body per push.
const pushBodyBytes = courier.MaxPushTextExcerpt + 4

// PushContent reads what the device's push for the conversation says: its
// registration (ENOTFOUND without one), the member's mute and unread
// counts, the badge, and the newest message from someone else the user
// has not read. A revoked device has no registration (ENOTFOUND); a user
// who left the conversation gets no Message: there is nothing to push.
func (s *PushStore) PushContent(ctx context.Context, deviceID, conversationID string) (*courier.PushContent, error) {
	r, err := scanRegistration(s.db.QueryRow(ctx, `SELECT p.device_id, p.user_id, p.service, p.token, p.topic,
			p.environment, p.kem, p.public_key, p.updated_at
		FROM push_registrations p JOIN devices d ON d.id = p.device_id
		WHERE p.device_id = $1 AND d.revoked_at IS NULL`, deviceID))
	if err != nil {
		return nil, err
	}
	c := &courier.PushContent{Registration: r}
	// One round trip for the member's row and the badge: the badge sums
	// last_seq - read_seq over the user's conversations, as the
	// conversation list counts unread (the user's own messages move their
	// read watermark, so they never count).
	var readSeq, fromSeq int64
	var mutedUntil *time.Time
	err = s.db.QueryRow(ctx, `/* scatter: the badge sums unread over a user's conversations, per push */
		SELECT c.kind, c.name, c.encrypted, m.read_seq, m.from_seq, m.muted_until,
			GREATEST(c.last_seq - m.read_seq, 0),
			(SELECT COALESCE(SUM(GREATEST(c2.last_seq - m2.read_seq, 0)), 0)
				FROM conversation_members m2 JOIN conversations c2 ON c2.id = m2.conversation_id
				WHERE m2.user_id = m.user_id AND m2.removed_seq IS NULL)
		FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.removed_seq IS NULL`, conversationID, r.UserID).
		Scan(&c.ConversationKind, &c.ConversationName, &c.Encrypted, &readSeq, &fromSeq, &mutedUntil, &c.Unread, &c.Badge)
	if noRows(err) {
		return c, nil // not (or no longer) a member: nothing to push
	} else if err != nil {
		return nil, err
	}
	c.Muted = mutedUntil != nil && mutedUntil.After(time.Now())
	// The newest unread message from someone else, its sender's name and
	// the content type of its first attachment. An encrypted
	// conversation's body is an envelope, read whole when it is small
	// enough to carry (an excerpt of ciphertext opens to nothing).
	m := &courier.Message{ConversationID: conversationID}
	var blobType *string
	err = s.db.QueryRow(ctx, `SELECT msg.seq, msg.sender_id, msg.sender_device_id, msg.client_id,
			CASE WHEN NOT $6 THEN substring(msg.body FROM 1 FOR $4)
				WHEN octet_length(msg.body) <= $7 THEN msg.body END,
			msg.attachments, msg.created_at, u.name,
			(SELECT b.content_type FROM blobs b WHERE b.id = msg.attachments[1])
		FROM messages msg JOIN users u ON u.id = msg.sender_id
		WHERE msg.conversation_id = $1 AND msg.seq > GREATEST($2::bigint, $3::bigint) AND msg.sender_id <> $5
			AND msg.kind = '' AND msg.deleted_seq IS NULL
		ORDER BY msg.seq DESC LIMIT 1`, conversationID, readSeq, fromSeq, pushBodyBytes, r.UserID,
		c.Encrypted, courier.MaxPushEnvelope).
		Scan(&m.Seq, &m.SenderID, &m.SenderDeviceID, &m.ClientID, &m.Body, &m.Attachments, &m.CreatedAt,
			&c.SenderName, &blobType)
	if noRows(err) {
		return c, nil // all read: the job sends nothing
	} else if err != nil {
		return nil, err
	}
	c.Message = m
	if c.Encrypted {
		// One envelope serves every recipient device (sender keys), so
		// the message body is the device's own envelope.
		c.Envelope, m.Body = m.Body, nil
	}
	if blobType != nil {
		c.AttachmentType = *blobType
	}
	return c, nil
}
