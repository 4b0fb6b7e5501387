package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/courier-chat/courier"
)

// pendingSend is one Send waiting for its batch to commit.
type pendingSend struct {
	from *courier.Device
	req  courier.SendRequest
	done chan sendResult // buffered: a committer never blocks on a caller
}

type sendResult struct {
	msg     *courier.Message
	members []string // the conversation's members at msg's seq; nil for a resend
	created bool
	err     error
}

// commitTimeout bounds one batch transaction. It does not come from any
// caller's context: a caller giving up must not fail the others' messages.
const commitTimeout = 30 * time.Second

// lockConversationsSQL takes the row locks of every conversation in a batch
// in ID order, so two batches (on this node or another) never deadlock, and
// so each insert below takes its snapshot after the lock: a member removed
// before that is seen as removed.
const lockConversationsSQL = `SELECT id FROM conversations WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`

// insertMessageSQL bumps the conversation's seq and inserts the message in
// one statement, so both happen or neither. The bump is skipped (no row
// comes back) when the sender is no longer a member or the (device, client
// ID) pair exists already; the caller then learns which. Attachments get
// their rows for the download rule, and the sender's own watermarks move to
// the new message: sending marks the conversation read up to it.
// clock_timestamp() is read after the row lock, so timestamps follow seqs.
// In an encrypted conversation the bump also needs the request's recipient
// devices ($7, sorted) to be exactly the conversation's under the same
// lock; in a plain one, none may be named. The check compares $8, the
// digest of the named devices and the sender's (recipientDigest), with the
// conversation's recipient_digest, computing and storing that when a
// change cleared it (migrations/0012_recipient_digest.sql says why a
// stored one is never stale); only when they differ does it compare the
// lists, to let a sender without keys of its own through and to refuse
// the rest. The members come back too, read under the same lock: a member removed
// before this message is not among them, one removed after it is (removal
// takes the conversation's lock too), and the fan-out needs no query of its
// own. In a direct conversation a block either way refuses the bump
// (conversations.blocked, kept by BlockStore: no read of its own).
// Forwards go through insertForwardSQL.
const insertMessageSQL = `WITH target AS (
	SELECT t.seq FROM messages t
	WHERE $9::text <> '' AND t.conversation_id = $1 AND t.seq = $10::bigint AND t.kind = '' AND t.deleted_seq IS NULL
		AND t.seq > (SELECT from_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2)
		AND CASE $9::text
			WHEN 'reaction' THEN true
			WHEN 'edit' THEN t.sender_id = $2 AND clock_timestamp() - t.created_at <= $12::bigint * interval '1 microsecond'
			WHEN 'delete' THEN t.sender_id = $2 AND clock_timestamp() - t.created_at <= $13::bigint * interval '1 microsecond'
				OR EXISTS (SELECT 1 FROM conversation_members a JOIN conversations c ON c.id = a.conversation_id
					WHERE a.conversation_id = $1 AND c.id = $1 AND a.user_id = $2 AND a.role = 'admin' AND c.kind = 'group')
		END
), bump AS (
	UPDATE conversations SET last_seq = last_seq + 1, last_sender_id = $2,
		last_message_at = clock_timestamp(), last_attachments = cardinality($6::text[]),
		recipient_digest = CASE WHEN encrypted THEN COALESCE(recipient_digest, ` + recipientDigestSQL + `) END
	WHERE id = $1
		AND EXISTS (SELECT 1 FROM conversation_members
			WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL)
		AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND sender_device_id = $3 AND client_id = $4)
		AND ($9::text = '' OR EXISTS (SELECT 1 FROM target))
		AND ($9::text <> 'reaction' OR encrypted OR $14::bool)
		AND NOT blocked
		AND $11::bigint <= last_seq
		AND CASE WHEN NOT encrypted THEN cardinality($7::text[]) = 0
			WHEN COALESCE(recipient_digest, ` + recipientDigestSQL + `) = $8::bytea THEN true
			ELSE $7::text[] = ` + recipientDevicesSQL + ` END
	RETURNING last_seq, last_message_at, encrypted
), msg AS (
	INSERT INTO messages (conversation_id, seq, sender_id, sender_device_id, client_id, body, attachments, created_at,
		kind, target_seq, reply_to, forward_count)
	SELECT $1, last_seq, $2, $3, $4, $5, $6, last_message_at, $9::text, NULLIF($10::bigint, 0), NULLIF($11::bigint, 0),
		/*forward_count*/ 0
	FROM bump
	RETURNING seq, created_at, forward_count
), att AS (
	INSERT INTO message_attachments (blob_id, conversation_id, seq)
	SELECT b, $1, msg.seq FROM msg, unnest($6::text[]) b
), me AS (
	UPDATE conversation_members SET delivered_seq = GREATEST(delivered_seq, msg.seq),
		read_seq = GREATEST(read_seq, msg.seq)
	FROM msg WHERE conversation_id = $1 AND user_id = $2
), changed AS (
	UPDATE messages t SET
		body = CASE $9::text WHEN 'edit' THEN $5 ELSE ''::bytea END,
		attachments = CASE $9::text WHEN 'edit' THEN t.attachments ELSE '{}' END,
		edited_seq = CASE $9::text WHEN 'edit' THEN msg.seq ELSE t.edited_seq END,
		deleted_seq = CASE $9::text WHEN 'delete' THEN msg.seq END
	FROM msg WHERE $9::text IN ('edit', 'delete') AND t.conversation_id = $1 AND t.seq = $10::bigint
), wiped AS (
	UPDATE messages e SET body = ''::bytea FROM msg
	WHERE $9::text = 'delete' AND e.conversation_id = $1 AND e.target_seq = $10::bigint AND e.kind = 'edit'
), unattached AS (
	DELETE FROM message_attachments a USING msg
	WHERE $9::text = 'delete' AND a.conversation_id = $1 AND a.seq = $10::bigint
), unreacted AS (
	DELETE FROM message_reactions r USING msg
	WHERE r.conversation_id = $1 AND r.seq = $10::bigint
		AND ($9::text = 'delete' OR $9::text = 'reaction' AND r.user_id = $2 AND length($5) = 0)
), reacted AS (
	INSERT INTO message_reactions (conversation_id, seq, user_id, emoji, reacted_seq)
	SELECT $1, $10::bigint, $2, convert_from($5, 'UTF8'), msg.seq FROM msg, bump
	WHERE $9::text = 'reaction' AND length($5) > 0 AND NOT bump.encrypted
	ON CONFLICT (conversation_id, seq, user_id) DO UPDATE SET emoji = EXCLUDED.emoji, reacted_seq = EXCLUDED.reacted_seq
)
SELECT seq, created_at, forward_count, ARRAY(SELECT user_id FROM conversation_members
	WHERE conversation_id = $1 AND removed_seq IS NULL ORDER BY user_id) FROM msg`

// insertForwardSQL is insertMessageSQL for a forward: it also counts one
// more forward on each attachment, and the message takes the highest
// count (1 without attachments). A plain send runs without this step.
var insertForwardSQL = strings.NewReplacer(
	"), msg AS (", `), fwd AS (
	UPDATE blobs SET forward_count = forward_count + 1
	FROM bump WHERE id = ANY($6::text[])
	RETURNING forward_count
), msg AS (`,
	"/*forward_count*/ 0", "GREATEST(1, (SELECT max(forward_count) FROM fwd))",
).Replace(insertMessageSQL)

// commit commits a batch of queued messages (a committer takes the first
// waiting message and whatever else is queued, up to MaxBatch; while it
// commits, new messages queue for the next batch, so the busier the store,
// the larger the batches) and answers every caller. When the transaction
// fails (a concurrent resend of the same client ID on another node, a
// deadlock, a lost connection), no message of it was stored: the batch is
// split in halves and each retried, down to single messages, so one bad
// message costs the others only a retry and every caller gets its own
// correct answer.
func (s *MessageStore) commit(batch []*pendingSend) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	results, err := s.commitBatch(ctx, batch)
	if err != nil && len(batch) > 1 {
		half := len(batch) / 2
		s.commit(batch[:half])
		s.commit(batch[half:])
		return
	}
	for attempt := 1; err != nil && retryable(err) && attempt < 3; attempt++ {
		results, err = s.commitBatch(ctx, batch)
	}
	for i, p := range batch {
		if err != nil {
			p.done <- sendResult{err: err}
		} else {
			p.done <- results[i]
		}
	}
}

// retryable reports errors after which the same transaction may succeed:
// a unique violation from a concurrent resend (the retry finds the
// original), a deadlock, a serialization failure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01" || pe.Code == "40001")
}

// commitBatch runs the batch as one pipelined implicit transaction: one
// round trip and one WAL flush for all its messages. Results are read as
// they come, but returned only after Close has seen the commit succeed.
func (s *MessageStore) commitBatch(ctx context.Context, batch []*pendingSend) ([]sendResult, error) {
	convs := make([]string, 0, len(batch))
	for _, p := range batch {
		convs = append(convs, p.req.ConversationID)
	}
	slices.Sort(convs)
	convs = slices.Compact(convs)

	b := &pgx.Batch{}
	b.Queue(lockConversationsSQL, convs)
	for _, p := range batch {
		body, atts := p.req.Body, p.req.Attachments
		if body == nil {
			body = []byte{}
		}
		if atts == nil {
			atts = []string{}
		}
		devs := p.req.Devices
		if devs == nil {
			devs = []string{}
		}
		sql := insertMessageSQL
		if p.req.Forwarded {
			sql = insertForwardSQL
		}
		b.Queue(sql, p.req.ConversationID, p.from.UserID, p.from.ID, p.req.ClientID, body, atts, devs,
			recipientDigest(p.from.ID, devs), string(p.req.Kind), p.req.Target, p.req.ReplyTo,
			s.cfg.EditWindow.Microseconds(), s.cfg.DeleteWindow.Microseconds(), courier.PlainReaction(p.req.Body))
	}
	br := s.db.SendBatch(ctx, b)
	results := make([]sendResult, len(batch))
	var unresolved []int
	_, err := br.Exec()
	for i := 0; err == nil && i < len(batch); i++ {
		p := batch[i]
		m := &courier.Message{ConversationID: p.req.ConversationID, SenderID: p.from.UserID,
			SenderDeviceID: p.from.ID, ClientID: p.req.ClientID, Body: p.req.Body, Attachments: p.req.Attachments,
			Kind: p.req.Kind, Target: p.req.Target, ReplyTo: p.req.ReplyTo, Forwarded: p.req.Forwarded}
		var members []string
		err = br.QueryRow().Scan(&m.Seq, &m.CreatedAt, &m.ForwardCount, &members)
		if noRows(err) {
			err = nil
			unresolved = append(unresolved, i)
		} else if err == nil {
			results[i] = sendResult{msg: m, members: members, created: true}
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, i := range unresolved {
		results[i] = s.resolve(ctx, batch[i])
	}
	return results, nil
}

// resolve answers a message whose insert did not happen: its (device,
// client ID) was stored already (earlier, or earlier in the same batch),
// the sender is not (or no longer) a member, or its recipient devices are
// not the conversation's.
func (s *MessageStore) resolve(ctx context.Context, p *pendingSend) sendResult {
	m, err := s.original(ctx, p.from, &p.req)
	if noRows(err) {
		return sendResult{err: s.refusal(ctx, p.from, &p.req)}
	}
	return sendResult{msg: m, err: err}
}

// recipientDevicesSQL lists the recipient devices of an encrypted
// conversation $1 for a send from device $3, sorted bytewise as Go sorts:
// every live device with an identity key of every current member.
const recipientDevicesSQL = `ARRAY(SELECT k.device_id FROM device_identity_keys k
		JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL
		JOIN conversation_members m ON m.user_id = k.user_id AND m.conversation_id = $1 AND m.removed_seq IS NULL
		WHERE k.device_id <> $3 ORDER BY k.device_id COLLATE "C")`

// recipientDigestSQL is the digest of the full recipient set of
// conversation $1, the sending device included when it has keys: SHA-256
// over the device IDs sorted bytewise, each followed by a newline.
const recipientDigestSQL = `(SELECT sha256(convert_to(COALESCE(
		string_agg(k.device_id || E'\n', '' ORDER BY k.device_id COLLATE "C"), ''), 'UTF8'))
	FROM device_identity_keys k
	JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL
	JOIN conversation_members m ON m.user_id = k.user_id AND m.conversation_id = $1 AND m.removed_seq IS NULL)`

// recipientDigest is recipientDigestSQL over the devices a send names
// (sorted) and the sender's: equal to the stored digest exactly when they
// are the conversation's recipients and the sender has keys. A list
// naming the sender itself gets no digest, so the full comparison refuses
// it as an extra device.
func recipientDigest(sender string, devices []string) []byte {
	i, found := slices.BinarySearch(devices, sender)
	if found {
		return nil
	}
	h := sha256.New()
	for j, id := range devices {
		if j == i {
			h.Write([]byte(sender + "\n"))
		}
		h.Write([]byte(id + "\n"))
	}
	if i == len(devices) {
		h.Write([]byte(sender + "\n"))
	}
	return h.Sum(nil)
}

// refusal says why a new message was not inserted: ENOTFOUND for a
// non-member, EBLOCKED for a direct conversation with a block, EINVALID for devices named in a plain conversation, else the
// recipient devices that differ (a *DeviceMismatch).
func (s *MessageStore) refusal(ctx context.Context, from *courier.Device, req *courier.SendRequest) error {
	var encrypted, member bool
	var want, blockers []string
	err := s.db.QueryRow(ctx, `SELECT c.encrypted,
		EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL),
		`+recipientDevicesSQL+`,
		ARRAY(SELECT b.blocker_id FROM conversation_members o JOIN blocks b
			ON b.blocker_id = o.user_id AND b.blocked_id = $2 OR b.blocker_id = $2 AND b.blocked_id = o.user_id
			WHERE c.kind = 'direct' AND o.conversation_id = $1 AND o.user_id <> $2)
		FROM conversations c WHERE c.id = $1`,
		req.ConversationID, from.UserID, from.ID).Scan(&encrypted, &member, &want, &blockers)
	switch {
	case noRows(err) || err == nil && !member:
		return errConversationNotFound()
	case err != nil:
		return err
	case slices.Contains(blockers, from.UserID):
		return courier.Errorf(courier.EBLOCKED, "you blocked this user: unblock them to send")
	case len(blockers) > 0:
		return courier.Errorf(courier.EBLOCKED, "this user does not accept your messages")
	}
	if req.ReplyTo > 0 {
		var head int64
		if err := s.db.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1`, req.ConversationID).Scan(&head); err != nil {
			return err
		} else if req.ReplyTo > head {
			return courier.Errorf(courier.EINVALID, "reply_to %d is past the conversation's last message", req.ReplyTo)
		}
	}
	if req.Kind != courier.KindMessage {
		if err := s.changeRefusal(ctx, from, req, encrypted); err != nil {
			return err
		}
	}
	if !encrypted {
		return courier.Errorf(courier.EINVALID, "the conversation is not encrypted: name no recipient devices")
	}
	return deviceMismatch(want, req.Devices).Err()
}

// changeRefusal says why a reaction, edit or delete was not stored, or
// nil when its target allows it (the recipient devices were the reason).
func (s *MessageStore) changeRefusal(ctx context.Context, from *courier.Device, req *courier.SendRequest, encrypted bool) error {
	var kind, sender string
	var visible, deleted, admin, editLate, deleteLate bool
	err := s.db.QueryRow(ctx, `SELECT t.kind, t.sender_id, t.seq > m.from_seq, t.deleted_seq IS NOT NULL,
			m.role = 'admin' AND c.kind = 'group',
			clock_timestamp() - t.created_at > $4::bigint * interval '1 microsecond',
			clock_timestamp() - t.created_at > $5::bigint * interval '1 microsecond'
		FROM messages t
		JOIN conversation_members m ON m.conversation_id = t.conversation_id AND m.user_id = $2
		JOIN conversations c ON c.id = t.conversation_id
		WHERE t.conversation_id = $1 AND c.id = $1 AND m.conversation_id = $1 AND t.seq = $3`,
		req.ConversationID, from.UserID, req.Target, s.cfg.EditWindow.Microseconds(), s.cfg.DeleteWindow.Microseconds()).
		Scan(&kind, &sender, &visible, &deleted, &admin, &editLate, &deleteLate)
	switch {
	case noRows(err) || err == nil && !visible:
		return courier.Errorf(courier.ENOTFOUND, "message %d not found", req.Target)
	case err != nil:
		return err
	case kind != "":
		return courier.Errorf(courier.EINVALID, "message %d is a %s: only a message can be changed", req.Target, kind)
	case deleted:
		return courier.Errorf(courier.ECONFLICT, "message %d was deleted", req.Target)
	case req.Kind == courier.KindReaction && !encrypted && !courier.PlainReaction(req.Body):
		return courier.Errorf(courier.EINVALID, "a reaction is one emoji, at most %d bytes of text (empty removes it)", courier.MaxReactionLen)
	case req.Kind == courier.KindEdit && sender != from.UserID:
		return courier.Errorf(courier.EFORBIDDEN, "only its sender can edit message %d", req.Target)
	case req.Kind == courier.KindEdit && editLate:
		return courier.Errorf(courier.EFORBIDDEN, "message %d can no longer be edited (after %s)", req.Target, s.cfg.EditWindow)
	case req.Kind == courier.KindDelete && !admin && sender != from.UserID:
		return courier.Errorf(courier.EFORBIDDEN, "only its sender or a group admin can delete message %d for everyone", req.Target)
	case req.Kind == courier.KindDelete && !admin && deleteLate:
		return courier.Errorf(courier.EFORBIDDEN, "message %d can no longer be deleted for everyone (after %s)", req.Target, s.cfg.DeleteWindow)
	}
	return nil
}

// deviceMismatch compares the recipient devices wanted with those named
// (both sorted).
func deviceMismatch(want, got []string) *courier.DeviceMismatch {
	d := &courier.DeviceMismatch{}
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			d.Missing = append(d.Missing, id)
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			d.Extra = append(d.Extra, id)
		}
	}
	return d
}
