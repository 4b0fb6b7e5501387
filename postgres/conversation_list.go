package postgres

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-chat/courier"
)

// Page sizes of Conversations.
const (
	DefaultConversationPage = 50
	MaxConversationPage     = 200
)

// listCursor is the position after the last conversation of a page: its
// activity time (newest message, or creation) and ID. Clients see it as an
// opaque string.
type listCursor struct {
	activity time.Time
	id       string
}

func (c listCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.activity.UnixMicro(), 10) + ":" + c.id))
}

func parseListCursor(s string) (*listCursor, error) {
	bad := courier.Errorf(courier.EINVALID, "malformed cursor")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	micros, id, ok := strings.Cut(string(raw), ":")
	us, err := strconv.ParseInt(micros, 10, 64)
	// The id reaches a text parameter, which holds no NUL or invalid
	// UTF-8: anything but an ID's shape is a malformed cursor, not a
	// failed query.
	if !ok || err != nil || !validID(id) {
		return nil, bad
	}
	return &listCursor{activity: time.UnixMicro(us), id: id}, nil
}

// Conversations lists the user's current conversations, most recent
// activity first. Unread is last_seq - read_seq: Send moves the sender's own
// read watermark to their message, so a user's own messages are never
// counted unread and the count costs no message reads.
//
// The cursor is keyset pagination on (activity, id): a conversation whose
// activity changes between two pages may show up twice or not at all, which
// a client refreshing its list from the top corrects.
func (s *ConversationService) Conversations(ctx context.Context, userID, cursor string, limit int) (_ []*courier.ConversationView, _ string, err error) {
	defer outage(&err)
	if limit <= 0 {
		limit = DefaultConversationPage
	} else if limit > MaxConversationPage {
		limit = MaxConversationPage
	}
	var after *listCursor
	if cursor != "" {
		var err error
		if after, err = parseListCursor(cursor); err != nil {
			return nil, "", err
		}
	}
	args := []any{userID, limit + 1}
	where := ""
	if after != nil {
		where = `AND (COALESCE(c.last_message_at, c.created_at), c.id) < ($3, $4)`
		args = append(args, after.activity, after.id)
	}
	rows, err := s.db.Query(ctx, `/* scatter: a user's conversation list, one page per request */
		SELECT c.id, c.kind, c.name, c.encrypted, c.last_seq, c.created_at,
			c.last_sender_id, c.last_message_at, c.last_attachments, m.read_seq, m.delivered_seq,
			COALESCE(c.last_message_at, c.created_at) AS activity
		FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = $1 AND m.removed_seq IS NULL `+where+`
		ORDER BY activity DESC, c.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, "", err
	}
	views, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*courier.ConversationView, error) {
		v := &courier.ConversationView{}
		var sender *string
		var at *time.Time
		var attachments int
		var activity time.Time
		err := row.Scan(&v.ID, &v.Kind, &v.Name, &v.Encrypted, &v.LastSeq, &v.CreatedAt, &sender, &at, &attachments,
			&v.ReadSeq, &v.DeliveredSeq, &activity)
		if sender != nil && at != nil {
			v.LastMessage = &courier.MessageMeta{Seq: v.LastSeq, SenderID: *sender, CreatedAt: *at, Attachments: attachments}
		}
		v.UnreadCount = max(0, v.LastSeq-v.ReadSeq)
		return v, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(views) > limit {
		views = views[:limit]
		next = listCursor{activity: activityOf(views[limit-1]), id: views[limit-1].ID}.String()
	}
	return views, next, nil
}

func activityOf(v *courier.ConversationView) time.Time {
	if v.LastMessage != nil {
		return v.LastMessage.CreatedAt
	}
	return v.CreatedAt
}
