package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/courier-chat/courier"
)

// conversationLock is what a membership change learns while it holds the
// conversation row lock.
type conversationLock struct {
	kind    courier.ConversationKind
	lastSeq int64
	role    string // the acting user's role; "" when not a member
}

// lockConversation locks the conversation row (the lock Send takes to bump
// the seq) and reads the acting user's role. Non-members get ENOTFOUND, so
// they learn nothing about the conversation.
func lockConversation(ctx context.Context, tx pgx.Tx, userID, conversationID string) (*conversationLock, error) {
	if !validID(conversationID) {
		return nil, errConversationNotFound()
	}
	l := &conversationLock{}
	err := tx.QueryRow(ctx, `SELECT c.kind, c.last_seq, COALESCE(m.role, '')
		FROM conversations c LEFT JOIN conversation_members m
			ON m.conversation_id = c.id AND m.user_id = $2 AND m.removed_seq IS NULL
		WHERE c.id = $1 FOR NO KEY UPDATE OF c`, conversationID, userID).Scan(&l.kind, &l.lastSeq, &l.role)
	if noRows(err) || (err == nil && l.role == "") {
		return nil, errConversationNotFound()
	} else if err != nil {
		return nil, err
	}
	return l, nil
}

func (s *ConversationService) AddMembers(ctx context.Context, userID, conversationID string, memberIDs []string) (err error) {
	defer outage(&err)
	ids := uniqueIDs(memberIDs)
	if len(ids) == 0 {
		return courier.Errorf(courier.EINVALID, "members must name at least one user")
	} else if err := checkUserIDs(ids); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		l, err := lockConversation(ctx, tx, userID, conversationID)
		if err != nil {
			return err
		} else if l.kind != courier.ConversationGroup {
			return courier.Errorf(courier.EINVALID, "members can be added to groups only")
		} else if l.role != courier.RoleAdmin {
			return courier.Errorf(courier.EFORBIDDEN, "only admins may add members")
		}
		// Users already in the group are left as they are: adding is idempotent.
		rows, err := tx.Query(ctx, `SELECT u FROM unnest($2::text[]) u WHERE NOT EXISTS (
			SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = u AND removed_seq IS NULL)
			ORDER BY u`, conversationID, ids)
		if err != nil {
			return err
		}
		joining, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(joining) == 0 {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM conversation_members
			WHERE conversation_id = $1 AND removed_seq IS NULL`, conversationID).Scan(&count); err != nil {
			return err
		}
		if count+len(joining) > s.cfg.MaxGroupMembers {
			return courier.Errorf(courier.ECONFLICT, "a group may have at most %d members", s.cfg.MaxGroupMembers)
		}
		if err := s.lockForGroupJoin(ctx, tx, joining); err != nil {
			return err
		} else if err := refuseBlockedJoin(ctx, tx, userID, joining); err != nil {
			return err
		}
		// A new member (or a returning former one) sees what is sent from
		// now on: earlier messages were not sealed for their devices.
		// Their watermarks start at the current seq so nothing old is unread.
		_, err = tx.Exec(ctx, `INSERT INTO conversation_members
			(conversation_id, user_id, role, from_seq, delivered_seq, read_seq)
			SELECT $1, u, 'member', $3, $3, $3 FROM unnest($2::text[]) u
			ON CONFLICT (conversation_id, user_id) DO UPDATE SET role = 'member',
				from_seq = $3, delivered_seq = $3, read_seq = $3, removed_seq = NULL,
				removed_at = NULL, joined_at = now()`, conversationID, joining, l.lastSeq)
		return err
	})
}

func (s *ConversationService) RemoveMember(ctx context.Context, userID, conversationID, memberID string) (err error) {
	defer outage(&err)
	if err := checkUserIDs([]string{memberID}); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		l, err := lockConversation(ctx, tx, userID, conversationID)
		if err != nil {
			return err
		} else if l.kind != courier.ConversationGroup {
			return courier.Errorf(courier.EINVALID, "nobody can leave a direct conversation")
		} else if memberID != userID && l.role != courier.RoleAdmin {
			return courier.Errorf(courier.EFORBIDDEN, "only admins may remove other members")
		}
		// removed_seq is the last seq now; the row lock keeps Send from
		// committing a message in between.
		tag, err := tx.Exec(ctx, `UPDATE conversation_members SET removed_seq = $3, removed_at = now()
			WHERE conversation_id = $1 AND user_id = $2 AND removed_seq IS NULL`,
			conversationID, memberID, l.lastSeq)
		if err != nil {
			return err
		} else if tag.RowsAffected() == 0 {
			return courier.Errorf(courier.ENOTFOUND, "user %q is not a member", memberID)
		}
		// A group is never left without an admin: the longest-standing
		// member takes over when the last admin goes.
		_, err = tx.Exec(ctx, `UPDATE conversation_members SET role = 'admin'
			WHERE conversation_id = $1 AND user_id = (
				SELECT user_id FROM conversation_members
				WHERE conversation_id = $1 AND removed_seq IS NULL ORDER BY joined_at, user_id LIMIT 1)
			AND NOT EXISTS (SELECT 1 FROM conversation_members
				WHERE conversation_id = $1 AND removed_seq IS NULL AND role = 'admin')`, conversationID)
		return err
	})
}
