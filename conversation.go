package courier

import (
	"context"
	"time"
)

// ConversationKind is direct (two users) or group.
type ConversationKind string

const (
	ConversationDirect ConversationKind = "direct"
	ConversationGroup  ConversationKind = "group"
)

// Limits of the messaging core; the defaults a deployment gets.
const (
	MaxGroupMembers = 1024
	MaxMessageBody  = 64 << 10 // bytes of opaque body
	MaxAttachments  = 32
)

// Member roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Conversation is a direct chat or a group. LastSeq is the sequence number
// of its newest message.
type Conversation struct {
	ID        string           `json:"conversation_id"`
	Kind      ConversationKind `json:"kind"`
	Name      string           `json:"name,omitempty"`
	LastSeq   int64            `json:"last_seq"`
	CreatedAt time.Time        `json:"created_at"`
	// Encrypted conversations carry end-to-end encrypted envelopes only
	// (docs/e2e.md); set at creation, never changed.
	Encrypted bool     `json:"encrypted,omitempty"`
	Members   []Member `json:"members,omitempty"`
	// State is the asking user's own settings for the conversation, in
	// their list and in the conversation they fetch.
	State *ConversationState `json:"state,omitempty"`
}

// ConversationState is one user's settings for one conversation, the
// same on all their devices. MutedUntil is absent when not muted
// (9999-01-01 for good); muted conversations get silent pushes.
type ConversationState struct {
	ConversationID string     `json:"conversation_id"`
	MutedUntil     *time.Time `json:"muted_until,omitempty"`
	Archived       bool       `json:"archived"`
	Pinned         bool       `json:"pinned"`
	MarkedUnread   bool       `json:"marked_unread"`
}

// ConversationStatePatch changes a ConversationState: absent (nil) fields
// stay as they are. Muted true with no MutedUntil mutes for good.
type ConversationStatePatch struct {
	Muted        *bool      `json:"muted,omitempty"`
	MutedUntil   *time.Time `json:"muted_until,omitempty"`
	Archived     *bool      `json:"archived,omitempty"`
	Pinned       *bool      `json:"pinned,omitempty"`
	MarkedUnread *bool      `json:"marked_unread,omitempty"`
}

// MuteForever is "muted for good": a date no phone outlives.
var MuteForever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate checks p against now: a mute ends in the future, and a mute
// end comes with muted true.
func (p ConversationStatePatch) Validate(now time.Time) error {
	switch {
	case p.Muted == nil && p.Archived == nil && p.Pinned == nil && p.MarkedUnread == nil:
		return Errorf(EINVALID, "name at least one of muted, archived, pinned, marked_unread")
	case p.MutedUntil != nil && (p.Muted == nil || !*p.Muted):
		return Errorf(EINVALID, "muted_until goes with muted: true")
	case p.MutedUntil != nil && !p.MutedUntil.After(now):
		return Errorf(EINVALID, "muted_until must be in the future")
	}
	return nil
}

// ConversationStateService stores per-user conversation state.
type ConversationStateService interface {
	// SetConversationState applies p for a member (ENOTFOUND for anyone
	// else) and returns the state afterwards.
	SetConversationState(ctx context.Context, userID, conversationID string, p ConversationStatePatch) (*ConversationState, error)
}

// ConversationView is a conversation as one member sees it in their list.
type ConversationView struct {
	Conversation
	ReadSeq      int64        `json:"read_seq"`
	DeliveredSeq int64        `json:"delivered_seq"`
	UnreadCount  int64        `json:"unread_count"`
	LastMessage  *MessageMeta `json:"last_message,omitempty"`
}

// NewConversation is what a user asks to create (the body of POST
// /v1/conversations).
type NewConversation struct {
	Kind    ConversationKind `json:"kind"`
	UserID  string           `json:"user_id,omitempty"` // direct: the other user
	Name    string           `json:"name,omitempty"`    // group
	Members []string         `json:"members,omitempty"` // group, besides the creator
	// Encrypted makes an end-to-end encrypted conversation. The direct
	// conversation of a pair exists once plain and once encrypted.
	Encrypted bool `json:"encrypted,omitempty"`
}

// Member is one user's membership with their receipt watermarks, which
// only move forward.
type Member struct {
	UserID       string    `json:"user_id"`
	Role         string    `json:"role"`
	DeliveredSeq int64     `json:"delivered_seq"`
	ReadSeq      int64     `json:"read_seq"`
	JoinedAt     time.Time `json:"joined_at"`
}

// ConversationService manages conversations and membership. Every method
// takes the acting user and checks they may act: non-members get ENOTFOUND,
// members who are not admins get EFORBIDDEN for admin actions.
type ConversationService interface {
	// Create creates a conversation as nc asks: CreateDirect or
	// CreateGroup, either of them end-to-end encrypted.
	Create(ctx context.Context, userID string, nc NewConversation) (*Conversation, error)
	// CreateDirect returns the one direct conversation between the two
	// users, creating it the first time.
	CreateDirect(ctx context.Context, userID, otherUserID string) (*Conversation, error)
	// CreateGroup creates a group with the creator as admin.
	CreateGroup(ctx context.Context, userID, name string, memberIDs []string) (*Conversation, error)
	// Conversation returns one conversation with its members.
	Conversation(ctx context.Context, userID, conversationID string) (*Conversation, error)
	// Conversations lists the user's conversations, most recent activity
	// first, paginated by an opaque cursor ("" for the first page).
	Conversations(ctx context.Context, userID, cursor string, limit int) ([]*ConversationView, string, error)
	// AddMembers and RemoveMember are for admins (a member may remove
	// themselves). A removed member gets nothing sent after removal.
	AddMembers(ctx context.Context, userID, conversationID string, memberIDs []string) error
	RemoveMember(ctx context.Context, userID, conversationID, memberID string) error
	// MemberIDs lists the current members' user IDs, for fan-out.
	MemberIDs(ctx context.Context, conversationID string) ([]string, error)
	// Heads lists every conversation the user belongs or belonged to with
	// the newest seq they may read, for sync: compare with a device's
	// cursors and fetch the difference with MessageStore.Messages.
	Heads(ctx context.Context, userID string) ([]ConversationHead, error)
}

// ConversationHead is where one conversation stands for one user.
type ConversationHead struct {
	ConversationID string `json:"conversation_id"`
	// LastSeq is the newest seq the user may read: the conversation's
	// last seq, or for a former member the last seq at their removal.
	LastSeq      int64 `json:"last_seq"`
	DeliveredSeq int64 `json:"delivered_seq"`
	ReadSeq      int64 `json:"read_seq"`
	// Removed is set when the user is no longer a member.
	Removed bool `json:"removed,omitempty"`
}
