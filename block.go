package courier

import (
	"context"
	"time"
)

// Block is one user another has blocked. A blocked user cannot message
// the blocker in their direct conversations (EBLOCKED, both ways while
// the block stands), cannot watch the blocker's presence nor see them
// typing, and cannot add them to groups (EBLOCKED). In a group both stay
// members and see each other's messages, as in WhatsApp: a block is
// between two people, a group belongs to all its members.
type Block struct {
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
}

// BlockService stores blocks. Block and Unblock are idempotent.
type BlockService interface {
	// Block makes userID block blockedID (ENOTFOUND for no such user,
	// EINVALID for oneself).
	Block(ctx context.Context, userID, blockedID string) error
	Unblock(ctx context.Context, userID, blockedID string) error
	// Blocks lists the users userID has blocked, newest first.
	Blocks(ctx context.Context, userID string) ([]Block, error)
	// BlockedAmong returns those of users that userID has blocked: the
	// ones that must not see userID typing or online.
	BlockedAmong(ctx context.Context, userID string, users []string) ([]string, error)
}

// BlocksChanged is the data of EventBlocksChanged.
type BlocksChanged struct {
	UserID  string `json:"user_id"`
	Blocked bool   `json:"blocked"`
}
