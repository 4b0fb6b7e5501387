package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/batch"
)

var _ courier.MessageStore = (*MessageStore)(nil)

// Limits of MessageStore beyond those of the root package.
const (
	MaxClientIDLen     = courier.MaxClientIDLen
	DefaultHistoryPage = 100
	MaxHistoryPage     = 200
)

// MessageConfig configures a MessageStore.
type MessageConfig struct {
	// MaxBatch is the most messages committed together in one transaction
	// (group commit). 1 turns group commit off: every Send commits in its
	// own transaction. Default 128.
	MaxBatch int
	// MaxWait is how long a committer that picked up a message lingers for
	// more before committing. Under load batches fill while the previous
	// commit runs, so this only adds latency when set. Default 0.
	MaxWait time.Duration
	// Committers is how many batches may commit at once, each on its own
	// connection. Default 2.
	Committers int
	// EditWindow and DeleteWindow are how long after sending its sender
	// may edit a message, or delete it for everyone (a group's admins may
	// delete at any time). Defaults courier.DefaultEditWindow and
	// courier.DefaultDeleteWindow.
	EditWindow, DeleteWindow time.Duration
}

// MessageStore stores messages. Concurrent Sends, from any senders to any
// conversations, are committed together by a few committer goroutines, so
// one WAL flush serves many messages; each caller is answered only after
// the transaction holding its message committed.
type MessageStore struct {
	db  *pgxpool.Pool
	cfg MessageConfig

	queue *batch.Queue[*pendingSend] // nil with group commit off
}

// NewMessageStore returns a MessageStore over db and starts its committers;
// Close stops them.
func NewMessageStore(db *pgxpool.Pool, cfg MessageConfig) *MessageStore {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 128
	}
	if cfg.EditWindow <= 0 {
		cfg.EditWindow = courier.DefaultEditWindow
	}
	if cfg.DeleteWindow <= 0 {
		cfg.DeleteWindow = courier.DefaultDeleteWindow
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 2
	}
	s := &MessageStore{db: db, cfg: cfg}
	if cfg.MaxBatch > 1 {
		s.queue = batch.NewQueue(batch.Options{Size: cfg.MaxBatch * cfg.Committers, Workers: cfg.Committers,
			Max: cfg.MaxBatch, Linger: cfg.MaxWait}, s.commit)
	}
	return s
}

// Close stops accepting messages, commits those already queued, and waits
// for the committers to finish.
func (s *MessageStore) Close() error {
	if s.queue != nil {
		s.queue.Close()
	}
	return nil
}

// Send validates the request and checks membership and attachments with
// cheap reads, then hands the message to group commit and waits for the
// commit. When ctx ends first, the message may still be committed: the
// client resends with the same client ID and gets the original.
func (s *MessageStore) Send(ctx context.Context, from *courier.Device, req courier.SendRequest) (_ *courier.Message, _ bool, err error) {
	defer outage(&err)
	msg, _, created, err := s.SendWithMembers(ctx, from, req)
	return msg, created, err
}

// SendWithMembers is Send that also returns the conversation's members at
// the new message's seq, read in the transaction that stored it, so the
// caller can fan out without a query of its own. members is nil when no
// message was stored (a resend answered with the original).
func (s *MessageStore) SendWithMembers(ctx context.Context, from *courier.Device, req courier.SendRequest) (msg *courier.Message, members []string, created bool, err error) {
	defer outage(&err)
	if err := validateSend(from, &req); err != nil {
		return nil, nil, false, err
	}
	// Without attachments there is nothing to check first: the batched
	// insert itself skips a non-member's message and a resend, and resolve
	// then answers them. Attachments are checked before batching, so a
	// refused one never reaches a batch.
	if len(req.Attachments) > 0 {
		if msg, err := s.precheck(ctx, from, &req); err != nil {
			return nil, nil, false, err
		} else if msg != nil {
			members, err := s.membersAt(ctx, msg)
			return msg, members, false, err
		}
	}
	p := &pendingSend{from: from, req: req, done: make(chan sendResult, 1)}
	if err := s.enqueue(ctx, p); err != nil {
		return nil, nil, false, err
	}
	select {
	case r := <-p.done:
		if r.err == nil && !r.created && r.members == nil {
			r.members, r.err = s.membersAt(ctx, r.msg)
		}
		return r.msg, r.members, r.created, r.err
	case <-ctx.Done():
		return nil, nil, false, ctx.Err()
	}
}

// membersAt lists who may see msg now, for re-publishing a resend: current
// members who had joined before it was sent. A member added since must not
// get it (it was not encrypted for their devices), nor one removed.
func (s *MessageStore) membersAt(ctx context.Context, msg *courier.Message) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT user_id FROM conversation_members
		WHERE conversation_id = $1 AND removed_seq IS NULL AND from_seq < $2 ORDER BY user_id`,
		msg.ConversationID, msg.Seq)
	if err != nil {
		return nil, err
	}
	members, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if members == nil && err == nil {
		members = []string{} // not nil: the caller must not ask again
	}
	return members, err
}

func (s *MessageStore) enqueue(ctx context.Context, p *pendingSend) error {
	if s.queue == nil {
		s.commit([]*pendingSend{p}) // group commit off: commit in the caller's goroutine
		return nil
	}
	err := s.queue.Put(ctx, p)
	if errors.Is(err, batch.ErrClosed) {
		return courier.Errorf(courier.EUNAVAILABLE, "message store is shutting down")
	}
	return err
}

func validateSend(from *courier.Device, req *courier.SendRequest) error {
	if from == nil || from.ID == "" || from.UserID == "" {
		return courier.Errorf(courier.EUNAUTHORIZED, "no device")
	} else if err := req.Validate(); err != nil {
		return err
	} else if !validID(req.ConversationID) {
		return errConversationNotFound()
	}
	// Attachments are a set: a repeated blob ID is stored once.
	seen := make(map[string]bool, len(req.Attachments))
	atts := make([]string, 0, len(req.Attachments))
	for _, id := range req.Attachments {
		if !validID(id) {
			return courier.Errorf(courier.EFORBIDDEN, "attachment %q: no such blob, or not one you may share", id)
		} else if !seen[id] {
			seen[id] = true
			atts = append(atts, id)
		}
	}
	req.Attachments = atts
	// Recipient devices are a set too, sorted as the insert compares them.
	for _, id := range req.Devices {
		if !validID(id) {
			return courier.Errorf(courier.EINVALID, "device %q is not a device ID", id)
		}
	}
	req.Devices = slices.Compact(slices.Sorted(slices.Values(req.Devices)))
	return nil
}

// precheck answers a resend with the original message, and refuses
// non-members, attachments the sender may not read, and plain blobs in an
// encrypted conversation (the server would read and process what the
// conversation keeps from it), in one round trip and before the message
// takes a place in a batch.
func (s *MessageStore) precheck(ctx context.Context, from *courier.Device, req *courier.SendRequest) (*courier.Message, error) {
	var member, dup bool
	var forbidden, plain []string
	err := s.db.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND sender_device_id = $3 AND client_id = $4),
		EXISTS (SELECT 1 FROM conversation_members
			WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL),
		ARRAY(SELECT b FROM unnest($5::text[]) b WHERE NOT `+canReadBlobSQL("b", "$2")+`),
		ARRAY(SELECT b.id FROM blobs b JOIN conversations c ON c.id = $1 AND c.encrypted
			WHERE b.id = ANY($5::text[]) AND b.mode = 'plain')`,
		req.ConversationID, from.UserID, from.ID, req.ClientID, req.Attachments).Scan(&dup, &member, &forbidden, &plain)
	switch {
	case err != nil:
		return nil, err
	case dup:
		return s.original(ctx, from, req)
	case !member:
		return nil, errConversationNotFound()
	case len(forbidden) > 0:
		return nil, courier.Errorf(courier.EFORBIDDEN, "attachment %q: no such blob, or not one you may share", forbidden[0])
	case len(plain) > 0:
		return nil, courier.Errorf(courier.EINVALID, "attachment %q: an encrypted conversation takes only e2e blobs", plain[0])
	}
	return nil, nil
}

// original returns the message a resend repeats: the one this device sent
// with this client ID in this conversation.
func (s *MessageStore) original(ctx context.Context, from *courier.Device, req *courier.SendRequest) (*courier.Message, error) {
	rows, err := s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE conversation_id = $1 AND sender_device_id = $2 AND client_id = $3`, req.ConversationID, from.ID, req.ClientID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectExactlyOneRow(rows, scanMessage)
}

const messageColumns = `conversation_id, seq, sender_id, sender_device_id, client_id, body, attachments, created_at,
	kind, COALESCE(target_seq, 0), COALESCE(reply_to, 0), COALESCE(edited_seq, 0), COALESCE(deleted_seq, 0)`

func scanMessage(row pgx.CollectableRow) (*courier.Message, error) {
	m := &courier.Message{}
	err := row.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.SenderDeviceID, &m.ClientID, &m.Body,
		&m.Attachments, &m.CreatedAt, &m.Kind, &m.Target, &m.ReplyTo, &m.EditedSeq, &m.DeletedSeq)
	if len(m.Attachments) == 0 {
		m.Attachments = nil
	}
	return m, err
}

// Messages reads history. With only before given it returns the newest
// messages below it (scrolling back); otherwise the oldest after after
// (catching up). Either way ascending. A member sees messages sent after
// they joined; a former member only those up to their removal.
func (s *MessageStore) Messages(ctx context.Context, userID, conversationID string, after, before int64, limit int) (_ []*courier.Message, err error) {
	defer outage(&err)
	if after < 0 || before < 0 {
		return nil, courier.Errorf(courier.EINVALID, "after and before must not be negative")
	}
	if !validID(conversationID) {
		return nil, errConversationNotFound()
	}
	if limit <= 0 {
		limit = DefaultHistoryPage
	} else if limit > MaxHistoryPage {
		limit = MaxHistoryPage
	}
	var from int64
	var until *int64
	err = s.db.QueryRow(ctx, `SELECT from_seq, removed_seq FROM conversation_members
		WHERE conversation_id = $1 AND user_id = $2`, conversationID, userID).Scan(&from, &until)
	if noRows(err) {
		return nil, errConversationNotFound()
	} else if err != nil {
		return nil, err
	}
	lo, hi := max(after, from), int64(1<<62)
	if before > 0 {
		hi = before - 1
	}
	if until != nil {
		hi = min(hi, *until)
	}
	if lo >= hi {
		return []*courier.Message{}, nil
	}
	order := "ASC"
	if after == 0 && before > 0 {
		order = "DESC"
	}
	rows, err := s.db.Query(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq `+order+` LIMIT $4`,
		conversationID, lo, hi, limit)
	if err != nil {
		return nil, err
	}
	msgs, err := pgx.CollectRows(rows, scanMessage)
	if err != nil {
		return nil, err
	}
	if order == "DESC" {
		slices.Reverse(msgs)
	}
	return msgs, s.addReactions(ctx, conversationID, msgs)
}

// addReactions fills in the reaction summaries of msgs, one query for
// the page.
func (s *MessageStore) addReactions(ctx context.Context, conversationID string, msgs []*courier.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	bySeq := make(map[int64]*courier.Message, len(msgs))
	for _, m := range msgs {
		bySeq[m.Seq] = m
	}
	rows, err := s.db.Query(ctx, `SELECT seq, emoji, count(*) FROM message_reactions
		WHERE conversation_id = $1 AND seq BETWEEN $2 AND $3 GROUP BY seq, emoji`,
		conversationID, msgs[0].Seq, msgs[len(msgs)-1].Seq)
	if err != nil {
		return err
	}
	var seq int64
	var emoji string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&seq, &emoji, &n}, func() error {
		if m := bySeq[seq]; m != nil {
			if m.Reactions == nil {
				m.Reactions = map[string]int{}
			}
			m.Reactions[emoji] = n
		}
		return nil
	})
	return err
}
