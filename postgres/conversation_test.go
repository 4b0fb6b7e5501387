package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

func TestCreateDirect(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)

	// Concurrent creations from both sides meet in one conversation.
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, b := u[0], u[1]
			if i%2 == 1 {
				a, b = b, a
			}
			c, err := e.convs.CreateDirect(ctx, a.UserID, b.UserID)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creations gave %q and %q", ids[0], id)
		}
	}
	c, err := e.convs.Conversation(ctx, u[1].UserID, ids[0])
	if err != nil {
		t.Fatal(err)
	} else if c.Kind != courier.ConversationDirect || len(c.Members) != 2 {
		t.Fatalf("got kind %q with %d members", c.Kind, len(c.Members))
	}
	var rows int
	e.db.Pool.QueryRow(ctx, `/* scatter: the test counts every row */ SELECT count(*) FROM conversations`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d conversation rows, want 1", rows)
	}

	for _, tc := range []struct {
		name, other, code string
	}{
		{"self", u[0].UserID, courier.EINVALID},
		{"unknown user", courier.NewID(), courier.ENOTFOUND},
		{"malformed user", "x\x00y", courier.ENOTFOUND},
		{"empty", "", courier.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.convs.CreateDirect(ctx, u[0].UserID, tc.other)
			wantCode(t, err, tc.code)
		})
	}
	// A third user sees nothing of it.
	_, err = e.convs.Conversation(ctx, u[2].UserID, ids[0])
	wantCode(t, err, courier.ENOTFOUND)
}

func TestGroupMembership(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 5)
	admin, member, other, outsider, newcomer := u[0], u[1], u[2], u[3], u[4]
	g := e.group(t, admin, member, other)
	if g.Members[0].UserID != admin.UserID || g.Members[0].Role != courier.RoleAdmin || len(g.Members) != 3 {
		t.Fatalf("members %+v: want the creator first, as admin, and 3 members", g.Members)
	}
	direct, _ := e.convs.CreateDirect(ctx, admin.UserID, member.UserID)

	steps := []struct {
		name string
		do   func() error
		code string
	}{
		{"member adds", func() error { return e.convs.AddMembers(ctx, member.UserID, g.ID, []string{newcomer.UserID}) }, courier.EFORBIDDEN},
		{"outsider adds", func() error { return e.convs.AddMembers(ctx, outsider.UserID, g.ID, []string{outsider.UserID}) }, courier.ENOTFOUND},
		{"admin adds unknown", func() error { return e.convs.AddMembers(ctx, admin.UserID, g.ID, []string{courier.NewID()}) }, courier.ENOTFOUND},
		{"admin adds to direct", func() error { return e.convs.AddMembers(ctx, admin.UserID, direct.ID, []string{newcomer.UserID}) }, courier.EINVALID},
		{"admin adds", func() error { return e.convs.AddMembers(ctx, admin.UserID, g.ID, []string{newcomer.UserID}) }, ""},
		{"admin adds again", func() error { return e.convs.AddMembers(ctx, admin.UserID, g.ID, []string{newcomer.UserID}) }, ""},
		{"member removes other", func() error { return e.convs.RemoveMember(ctx, member.UserID, g.ID, other.UserID) }, courier.EFORBIDDEN},
		{"outsider removes", func() error { return e.convs.RemoveMember(ctx, outsider.UserID, g.ID, other.UserID) }, courier.ENOTFOUND},
		{"leave direct", func() error { return e.convs.RemoveMember(ctx, member.UserID, direct.ID, member.UserID) }, courier.EINVALID},
		{"member leaves", func() error { return e.convs.RemoveMember(ctx, member.UserID, g.ID, member.UserID) }, ""},
		{"member leaves twice", func() error { return e.convs.RemoveMember(ctx, member.UserID, g.ID, member.UserID) }, courier.ENOTFOUND},
		{"admin removes", func() error { return e.convs.RemoveMember(ctx, admin.UserID, g.ID, newcomer.UserID) }, ""},
		{"admin removes non-member", func() error { return e.convs.RemoveMember(ctx, admin.UserID, g.ID, outsider.UserID) }, courier.ENOTFOUND},
		{"last admin leaves", func() error { return e.convs.RemoveMember(ctx, admin.UserID, g.ID, admin.UserID) }, ""},
		{"promoted admin adds back", func() error { return e.convs.AddMembers(ctx, other.UserID, g.ID, []string{member.UserID}) }, ""},
	}
	for _, st := range steps {
		wantCode(t, st.do(), st.code)
	}
	ids, err := e.convs.MemberIDs(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{other.UserID: true, member.UserID: true}
	if len(ids) != len(want) || !want[ids[0]] || !want[ids[1]] {
		t.Fatalf("members %v, want %v", ids, want)
	}
}

func TestGroupLimits(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{MaxGroupsPerUser: 2, MaxGroupMembers: 3}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 5)
	e.group(t, u[0], u[1])
	g := e.group(t, u[0], u[2])

	_, err := e.convs.CreateGroup(ctx, u[0].UserID, "third", nil)
	wantCode(t, err, courier.ECONFLICT) // u[0] is in 2 groups
	_, err = e.convs.CreateGroup(ctx, u[1].UserID, "big", []string{u[2].UserID, u[3].UserID, u[4].UserID})
	wantCode(t, err, courier.ECONFLICT) // 4 members
	_, err = e.convs.CreateGroup(ctx, u[3].UserID, "name", []string{u[1].UserID})
	wantCode(t, err, "")                                                                              // u[1] reaches 2 groups
	wantCode(t, e.convs.AddMembers(ctx, u[0].UserID, g.ID, []string{u[1].UserID}), courier.ECONFLICT) // u[1] is full
	wantCode(t, e.convs.AddMembers(ctx, u[0].UserID, g.ID, []string{u[3].UserID, u[4].UserID}), courier.ECONFLICT)
	wantCode(t, e.convs.AddMembers(ctx, u[0].UserID, g.ID, []string{u[4].UserID}), "")
	// Leaving makes room again.
	wantCode(t, e.convs.RemoveMember(ctx, u[4].UserID, g.ID, u[4].UserID), "")
	wantCode(t, e.convs.AddMembers(ctx, u[0].UserID, g.ID, []string{u[3].UserID}), "")
	// Direct conversations do not count as groups.
	_, err = e.convs.CreateDirect(ctx, u[0].UserID, u[4].UserID)
	wantCode(t, err, "")
}

func TestConversationList(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 8)
	me := u[0]
	var created []string
	for _, other := range u[1:] {
		c, err := e.convs.CreateDirect(ctx, me.UserID, other.UserID)
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, c.ID)
	}
	// Activity in the oldest brings it to the top; the other's three
	// messages are unread, my own reply marks them read.
	for range 3 {
		e.send(t, u[1], created[0])
	}

	var got []*courier.ConversationView
	cursor, pages := "", 0
	for {
		page, next, err := e.convs.Conversations(ctx, me.UserID, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		got, cursor, pages = append(got, page...), next, pages+1
		if cursor == "" {
			break
		}
	}
	if pages != 3 || len(got) != len(created) {
		t.Fatalf("%d pages, %d conversations; want 3 pages, %d", pages, len(got), len(created))
	}
	seen := map[string]bool{}
	for _, v := range got {
		if seen[v.ID] {
			t.Fatalf("conversation %s listed twice", v.ID)
		}
		seen[v.ID] = true
	}
	top := got[0]
	if top.ID != created[0] || top.UnreadCount != 3 || top.LastMessage == nil || top.LastMessage.SenderID != u[1].UserID || top.LastSeq != 3 {
		t.Fatalf("top of list %+v: want %s with 3 unread from the other user", top, created[0])
	}
	if got[1].ID != created[len(created)-1] || got[1].LastMessage != nil || got[1].UnreadCount != 0 {
		t.Fatalf("second %+v: want the newest empty conversation", got[1])
	}
	e.send(t, me, created[0])
	page, _, _ := e.convs.Conversations(ctx, me.UserID, "", 1)
	if page[0].UnreadCount != 0 || page[0].ReadSeq != 4 {
		t.Fatalf("after my reply: unread %d, read_seq %d; want 0 and 4", page[0].UnreadCount, page[0].ReadSeq)
	}
	_, _, err := e.convs.Conversations(ctx, me.UserID, "not a cursor!", 3)
	wantCode(t, err, courier.EINVALID)
}

func TestDirectLimit(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{MaxDirectPerUser: 2}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 4)
	for _, other := range u[1:3] {
		_, err := e.convs.CreateDirect(ctx, u[0].UserID, other.UserID)
		wantCode(t, err, "")
	}
	_, err := e.convs.CreateDirect(ctx, u[0].UserID, u[3].UserID)
	wantCode(t, err, courier.ECONFLICT) // u[0] starts a third
	_, err = e.convs.CreateDirect(ctx, u[0].UserID, u[1].UserID)
	wantCode(t, err, "") // an existing one is returned, not counted
	_, err = e.convs.CreateDirect(ctx, u[3].UserID, u[1].UserID)
	wantCode(t, err, "") // the bound is the starter's
}
