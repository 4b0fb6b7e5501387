package postgres

import (
	"context"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.ConversationService = (*ConversationService)(nil)

// DefaultMaxGroupsPerUser is how many groups one user may be a member of.
const DefaultMaxGroupsPerUser = 500

// DefaultMaxDirectPerUser is how many direct conversations one user may
// start: enough for any person, a bound for a script.
const DefaultMaxDirectPerUser = 10000

// ConversationConfig configures a ConversationService.
type ConversationConfig struct {
	// MaxGroupsPerUser bounds the groups a user is a member of at once.
	// Default DefaultMaxGroupsPerUser (500).
	MaxGroupsPerUser int
	// MaxGroupMembers bounds the members of one group.
	// Default courier.MaxGroupMembers (1024).
	MaxGroupMembers int
	// MaxDirectPerUser bounds the direct conversations a user is in when
	// they start a new one. Default DefaultMaxDirectPerUser (10,000).
	MaxDirectPerUser int
}

// ConversationService stores conversations and their members.
//
// Membership changes lock the conversation row, the same lock Send takes to
// bump the seq, so a removal and a send are ordered: a removed member's
// removed_seq is exactly the last seq they may read.
type ConversationService struct {
	db  *pgxpool.Pool
	cfg ConversationConfig
}

// NewConversationService returns a ConversationService over db.
func NewConversationService(db *pgxpool.Pool, cfg ConversationConfig) *ConversationService {
	if cfg.MaxGroupsPerUser <= 0 {
		cfg.MaxGroupsPerUser = DefaultMaxGroupsPerUser
	}
	if cfg.MaxGroupMembers <= 0 {
		cfg.MaxGroupMembers = courier.MaxGroupMembers
	}
	if cfg.MaxDirectPerUser <= 0 {
		cfg.MaxDirectPerUser = DefaultMaxDirectPerUser
	}
	return &ConversationService{db: db, cfg: cfg}
}

// validID reports whether id looks like a courier.NewID: short, URL-safe.
// Anything else is refused before it reaches a query.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkUserIDs fails with ENOTFOUND on the first ID that cannot be a user.
func checkUserIDs(ids []string) error {
	for _, id := range ids {
		if !validID(id) {
			return courier.Errorf(courier.ENOTFOUND, "user %q not found", id)
		}
	}
	return nil
}

func errConversationNotFound() error {
	return courier.Errorf(courier.ENOTFOUND, "conversation not found")
}

// Create creates the conversation nc describes.
func (s *ConversationService) Create(ctx context.Context, userID string, nc courier.NewConversation) (*courier.Conversation, error) {
	switch nc.Kind {
	case courier.ConversationDirect:
		return s.createDirect(ctx, userID, nc.UserID, nc.Encrypted)
	case courier.ConversationGroup:
		return s.createGroup(ctx, userID, nc.Name, nc.Members, nc.Encrypted)
	}
	return nil, courier.Errorf(courier.EINVALID, `kind must be "direct" or "group"`)
}

func (s *ConversationService) CreateDirect(ctx context.Context, userID, otherUserID string) (*courier.Conversation, error) {
	return s.createDirect(ctx, userID, otherUserID, false)
}

func (s *ConversationService) createDirect(ctx context.Context, userID, otherUserID string, encrypted bool) (_ *courier.Conversation, err error) {
	defer outage(&err)
	if otherUserID == "" || otherUserID == userID {
		return nil, courier.Errorf(courier.EINVALID, "user_id must name another user")
	}
	pair := []string{userID, otherUserID}
	if err := checkUserIDs(pair); err != nil {
		return nil, err
	}
	sort.Strings(pair)
	key := pair[0] + ":" + pair[1]
	if encrypted {
		key = "e2e:" + key
	}
	var id string
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := requireUsers(ctx, tx, pair); err != nil {
			return err
		}
		// The pair's row makes concurrent creations meet: the loser waits
		// for the winner's commit, inserts nothing, and reads its ID.
		err := tx.QueryRow(ctx, `INSERT INTO direct_conversations (direct_key, conversation_id)
			VALUES ($1, $2) ON CONFLICT (direct_key) DO NOTHING RETURNING conversation_id`,
			key, courier.NewID()).Scan(&id)
		if noRows(err) {
			return tx.QueryRow(ctx, `SELECT conversation_id FROM direct_conversations WHERE direct_key = $1`, key).Scan(&id)
		} else if err != nil {
			return err
		}
		// A block between the pair marks the new conversation blocked;
		// the pair's lock (BlockStore.change) orders this with a block.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('block:' || $1))`,
			pair[0]+":"+pair[1]); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, direct_key, created_by, encrypted, blocked)
			VALUES ($1, 'direct', $2, $3, $4, EXISTS (SELECT 1 FROM blocks
				WHERE blocker_id = $3 AND blocked_id = $5 OR blocker_id = $5 AND blocked_id = $3))`,
			id, key, userID, encrypted, otherUserID); err != nil {
			return err
		}
		// A new one: the starter's count is checked under their row lock
		// (requireUsers), so parallel creations cannot pass the bound.
		var n int
		if err := tx.QueryRow(ctx, `/* scatter: a user's direct conversations, counted once per new one */
			SELECT count(*) FROM conversation_members m
			JOIN conversations c ON c.id = m.conversation_id
			WHERE m.user_id = $1 AND c.kind = 'direct'`, userID).Scan(&n); err != nil {
			return err
		} else if n >= s.cfg.MaxDirectPerUser {
			return courier.Errorf(courier.ECONFLICT, "you are in %d direct conversations, the most allowed", n)
		}
		_, err = tx.Exec(ctx, `INSERT INTO conversation_members (conversation_id, user_id, role)
			SELECT $1, u, 'member' FROM unnest($2::text[]) u`, id, pair)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Conversation(ctx, userID, id)
}

func (s *ConversationService) CreateGroup(ctx context.Context, userID, name string, memberIDs []string) (*courier.Conversation, error) {
	return s.createGroup(ctx, userID, name, memberIDs, false)
}

func (s *ConversationService) createGroup(ctx context.Context, userID, name string, memberIDs []string, encrypted bool) (_ *courier.Conversation, err error) {
	defer outage(&err)
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	ids := uniqueIDs(append([]string{userID}, memberIDs...))
	if err := checkUserIDs(ids); err != nil {
		return nil, err
	} else if len(ids) > s.cfg.MaxGroupMembers {
		return nil, courier.Errorf(courier.ECONFLICT, "a group may have at most %d members", s.cfg.MaxGroupMembers)
	}
	id := courier.NewID()
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := s.lockForGroupJoin(ctx, tx, ids); err != nil {
			return err
		} else if err := refuseBlockedJoin(ctx, tx, userID, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conversations (id, kind, name, created_by, encrypted)
			VALUES ($1, 'group', $2, $3, $4)`, id, name, userID, encrypted); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO conversation_members (conversation_id, user_id, role)
			SELECT $1, u, CASE WHEN u = $3 THEN 'admin' ELSE 'member' END FROM unnest($2::text[]) u`,
			id, ids, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Conversation(ctx, userID, id)
}

// lockForGroupJoin checks that users exist and have room for one more
// group. The user rows stay locked until commit so two concurrent joins of
// one user cannot both pass the limit; they are locked in ID order so two
// transactions never wait on each other in a cycle. FOR NO KEY UPDATE does
// not block the foreign-key checks of unrelated inserts.
func (s *ConversationService) lockForGroupJoin(ctx context.Context, tx pgx.Tx, ids []string) error {
	if err := requireUsers(ctx, tx, ids); err != nil {
		return err
	}
	var full string
	err := tx.QueryRow(ctx, `/* scatter: each joining user's groups, counted once per join */
		SELECT m.user_id FROM conversation_members m
		JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = ANY($1) AND m.removed_seq IS NULL AND c.kind = 'group'
		GROUP BY m.user_id HAVING count(*) >= $2 LIMIT 1`, ids, s.cfg.MaxGroupsPerUser).Scan(&full)
	if err == nil {
		return courier.Errorf(courier.ECONFLICT, "user %s is already in %d groups, the most allowed", full, s.cfg.MaxGroupsPerUser)
	} else if !noRows(err) {
		return err
	}
	return nil
}

// requireUsers locks the users' rows (in ID order) and fails with
// ENOTFOUND naming the first user that does not exist.
func requireUsers(ctx context.Context, tx pgx.Tx, ids []string) error {
	rows, err := tx.Query(ctx, `SELECT id FROM users WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`, ids)
	if err != nil {
		return err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(found) == len(ids) {
		return nil
	}
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			return courier.Errorf(courier.ENOTFOUND, "user %q not found", id)
		}
	}
	return nil
}

// uniqueIDs drops empty and repeated IDs and sorts the rest.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func (s *ConversationService) Conversation(ctx context.Context, userID, conversationID string) (_ *courier.Conversation, err error) {
	defer outage(&err)
	if !validID(conversationID) {
		return nil, errConversationNotFound()
	}
	c := &courier.Conversation{State: &courier.ConversationState{ConversationID: conversationID}}
	err = s.db.QueryRow(ctx, `SELECT c.id, c.kind, c.name, c.last_seq, c.created_at, c.encrypted, `+stateColumns+`
		FROM conversations c JOIN conversation_members m ON m.conversation_id = c.id
		WHERE c.id = $1 AND m.user_id = $2 AND m.removed_seq IS NULL`, conversationID, userID).
		Scan(&c.ID, &c.Kind, &c.Name, &c.LastSeq, &c.CreatedAt, &c.Encrypted,
			&c.State.MutedUntil, &c.State.Archived, &c.State.Pinned, &c.State.MarkedUnread)
	if noRows(err) {
		return nil, errConversationNotFound()
	} else if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT user_id, role, delivered_seq, read_seq, joined_at
		FROM conversation_members WHERE conversation_id = $1 AND removed_seq IS NULL
		ORDER BY role = 'admin' DESC, joined_at, user_id`, conversationID)
	if err != nil {
		return nil, err
	}
	c.Members, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (courier.Member, error) {
		var m courier.Member
		err := row.Scan(&m.UserID, &m.Role, &m.DeliveredSeq, &m.ReadSeq, &m.JoinedAt)
		return m, err
	})
	return c, err
}

func (s *ConversationService) MemberIDs(ctx context.Context, conversationID string) (_ []string, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `SELECT user_id FROM conversation_members
		WHERE conversation_id = $1 AND removed_seq IS NULL ORDER BY user_id`, conversationID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *ConversationService) Heads(ctx context.Context, userID string) (_ []courier.ConversationHead, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `/* scatter: the heads of every conversation of a user, once per connect */
		SELECT c.id, COALESCE(m.removed_seq, c.last_seq), m.delivered_seq,
		m.read_seq, m.removed_seq IS NOT NULL
		FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = $1 ORDER BY c.id`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (courier.ConversationHead, error) {
		var h courier.ConversationHead
		err := row.Scan(&h.ConversationID, &h.LastSeq, &h.DeliveredSeq, &h.ReadSeq, &h.Removed)
		return h, err
	})
}
