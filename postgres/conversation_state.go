package postgres

import (
	"context"
	"time"

	"github.com/courier-chat/courier"
)

var _ courier.ConversationStateService = (*ConversationService)(nil)

// stateColumns reads a member's ConversationState from their
// conversation_members row m: muted_until, archived, pinned, marked_unread.
// A mute that has run out reads as none.
const stateColumns = `CASE WHEN m.muted_until > now() THEN m.muted_until END, m.archived,
	m.pinned_at IS NOT NULL, m.marked_unread`

// SetConversationState updates the member's row in one statement: each
// field the patch leaves out keeps its value. A pin keeps its first time
// when pinned again, so pins keep their order.
func (s *ConversationService) SetConversationState(ctx context.Context, userID, conversationID string, p courier.ConversationStatePatch) (_ *courier.ConversationState, err error) {
	defer outage(&err)
	if err := p.Validate(time.Now()); err != nil {
		return nil, err
	} else if !validID(conversationID) {
		return nil, errConversationNotFound()
	}
	var until *time.Time
	if p.Muted != nil && *p.Muted {
		until = &courier.MuteForever
		if p.MutedUntil != nil {
			u := p.MutedUntil.UTC()
			until = &u
		}
	}
	st := &courier.ConversationState{ConversationID: conversationID}
	err = s.db.QueryRow(ctx, `UPDATE conversation_members m SET
			muted_until = CASE WHEN $3::bool IS NULL THEN m.muted_until ELSE $4::timestamptz END,
			archived = COALESCE($5::bool, m.archived),
			pinned_at = CASE WHEN $6::bool IS NULL THEN m.pinned_at WHEN $6 THEN COALESCE(m.pinned_at, now()) END,
			marked_unread = COALESCE($7::bool, m.marked_unread)
		WHERE m.conversation_id = $1 AND m.user_id = $2 AND m.removed_seq IS NULL
		RETURNING `+stateColumns, conversationID, userID, p.Muted, until, p.Archived, p.Pinned, p.MarkedUnread).
		Scan(&st.MutedUntil, &st.Archived, &st.Pinned, &st.MarkedUnread)
	if noRows(err) {
		return nil, errConversationNotFound()
	}
	return st, err
}
