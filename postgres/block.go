package postgres

import (
	"context"
	"errors"
	"sort"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.BlockService = (*BlockStore)(nil)

// BlockStore stores blocks, keyed by the blocker. The send path and group
// joins read the same table by its key (message_batch.go,
// conversation_members.go).
type BlockStore struct {
	db *pgxpool.Pool
}

// NewBlockStore returns a BlockStore over db.
func NewBlockStore(db *pgxpool.Pool) *BlockStore { return &BlockStore{db: db} }

func (s *BlockStore) Block(ctx context.Context, userID, blockedID string) (err error) {
	defer outage(&err)
	if blockedID == userID {
		return courier.Errorf(courier.EINVALID, "you cannot block yourself")
	} else if err := checkUserIDs([]string{blockedID}); err != nil {
		return err
	}
	err = s.change(ctx, userID, blockedID, `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign key: no such user
		return courier.Errorf(courier.ENOTFOUND, "user %q not found", blockedID)
	}
	return err
}

func (s *BlockStore) Unblock(ctx context.Context, userID, blockedID string) (err error) {
	defer outage(&err)
	if !validID(blockedID) {
		return nil // never blocked: unblocking is idempotent
	}
	return s.change(ctx, userID, blockedID, `DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2`)
}

// change runs the block's insert or delete and sets the blocked flag of
// the pair's direct conversations (plain and encrypted) to whether a block
// stands either way. A lock per pair orders two changes of one pair, so
// the flag always matches the table; the send path reads only the flag.
func (s *BlockStore) change(ctx context.Context, userID, otherID, sql string) error {
	pair := []string{userID, otherID}
	sort.Strings(pair)
	key := pair[0] + ":" + pair[1]
	return pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('block:' || $1))`, key); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sql, userID, otherID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT conversation_id FROM direct_conversations WHERE direct_key = ANY($1)`,
			[]string{key, "e2e:" + key})
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE conversations SET blocked = EXISTS (SELECT 1 FROM blocks
				WHERE blocker_id = $2 AND blocked_id = $3 OR blocker_id = $3 AND blocked_id = $2)
			WHERE id = ANY($1)`, ids, userID, otherID)
		return err
	})
}

func (s *BlockStore) Blocks(ctx context.Context, userID string) (_ []courier.Block, err error) {
	defer outage(&err)
	rows, err := s.db.Query(ctx, `SELECT blocked_id, created_at FROM blocks WHERE blocker_id = $1
		ORDER BY created_at DESC, blocked_id`, userID)
	if err != nil {
		return nil, err
	}
	blocks, err := pgx.CollectRows(rows, pgx.RowToStructByPos[courier.Block])
	if blocks == nil && err == nil {
		blocks = []courier.Block{}
	}
	return blocks, err
}

func (s *BlockStore) BlockedAmong(ctx context.Context, userID string, users []string) (_ []string, err error) {
	defer outage(&err)
	if len(users) == 0 {
		return nil, nil
	}
	rows, err := s.db.Query(ctx, `SELECT blocked_id FROM blocks WHERE blocker_id = $1 AND blocked_id = ANY($2)`,
		userID, users)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// blockerAmongSQL finds one of the users $1 (an array) who has blocked
// user $2: they may not be added to a group by $2.
const blockerAmongSQL = `SELECT blocker_id FROM blocks WHERE blocker_id = ANY($1) AND blocked_id = $2
	ORDER BY blocker_id LIMIT 1`

// refuseBlockedJoin fails with EBLOCKED when one of joining has blocked
// the user adding them.
func refuseBlockedJoin(ctx context.Context, tx pgx.Tx, userID string, joining []string) error {
	var blocker string
	err := tx.QueryRow(ctx, blockerAmongSQL, joining, userID).Scan(&blocker)
	if noRows(err) {
		return nil
	} else if err != nil {
		return err
	}
	return courier.Errorf(courier.EBLOCKED, "user %q cannot be added by you", blocker)
}
