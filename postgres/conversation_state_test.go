package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func ptr[T any](v T) *T { return &v }

func TestConversationState(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	g := e.group(t, u[0], u[1])

	until := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	for _, tc := range []struct {
		name  string
		patch courier.ConversationStatePatch
		want  courier.ConversationState
	}{
		{"mute until", courier.ConversationStatePatch{Muted: ptr(true), MutedUntil: &until},
			courier.ConversationState{MutedUntil: &until}},
		{"archive keeps the mute", courier.ConversationStatePatch{Archived: ptr(true)},
			courier.ConversationState{MutedUntil: &until, Archived: true}},
		{"pin and mark unread", courier.ConversationStatePatch{Pinned: ptr(true), MarkedUnread: ptr(true)},
			courier.ConversationState{MutedUntil: &until, Archived: true, Pinned: true, MarkedUnread: true}},
		{"mute for good", courier.ConversationStatePatch{Muted: ptr(true)},
			courier.ConversationState{MutedUntil: &courier.MuteForever, Archived: true, Pinned: true, MarkedUnread: true}},
		{"unmute, unarchive, unpin, read", courier.ConversationStatePatch{Muted: ptr(false), Archived: ptr(false), Pinned: ptr(false), MarkedUnread: ptr(false)},
			courier.ConversationState{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := e.convs.SetConversationState(ctx, u[1].UserID, g.ID, tc.patch)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.ConversationID = g.ID
			assertState(t, "set", st, &tc.want)
			c, err := e.convs.Conversation(ctx, u[1].UserID, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			assertState(t, "conversation", c.State, &tc.want)
			list, _, err := e.convs.Conversations(ctx, u[1].UserID, "", 10)
			if err != nil || len(list) != 1 {
				t.Fatalf("list: %v %d", err, len(list))
			}
			assertState(t, "list", list[0].State, &tc.want)
		})
	}
	// The state is the user's own: the admin's is untouched.
	c, _ := e.convs.Conversation(ctx, u[0].UserID, g.ID)
	assertState(t, "other member", c.State, &courier.ConversationState{ConversationID: g.ID})

	_, err := e.convs.SetConversationState(ctx, u[2].UserID, g.ID, courier.ConversationStatePatch{Archived: ptr(true)})
	wantCode(t, err, courier.ENOTFOUND)
	_, err = e.convs.SetConversationState(ctx, u[1].UserID, g.ID, courier.ConversationStatePatch{})
	wantCode(t, err, courier.EINVALID)
	past := time.Now().Add(-time.Minute)
	_, err = e.convs.SetConversationState(ctx, u[1].UserID, g.ID, courier.ConversationStatePatch{Muted: ptr(true), MutedUntil: &past})
	wantCode(t, err, courier.EINVALID)
	_, err = e.convs.SetConversationState(ctx, u[1].UserID, g.ID, courier.ConversationStatePatch{MutedUntil: &until})
	wantCode(t, err, courier.EINVALID)
}

func assertState(t *testing.T, where string, got, want *courier.ConversationState) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: no state", where)
	}
	sameMute := (got.MutedUntil == nil) == (want.MutedUntil == nil) &&
		(got.MutedUntil == nil || got.MutedUntil.Equal(*want.MutedUntil))
	g, w := *got, *want
	g.MutedUntil, w.MutedUntil = nil, nil
	if !sameMute || g != w {
		t.Fatalf("%s: state %+v (muted %v), want %+v (muted %v)", where, g, got.MutedUntil, w, want.MutedUntil)
	}
}
