package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
)

// seqsOf returns the seqs of msgs.
func seqsOf(msgs []*courier.Message) []int64 {
	out := []int64{}
	for _, m := range msgs {
		out = append(out, m.Seq)
	}
	return out
}

func sameSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRemovedMember checks a removed member keeps their history up to the
// removal and nothing after, and a newcomer sees only what follows joining,
// in history, sync heads, and the download rule.
func TestRemovedMember(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	admin, leaver, newcomer := u[0], u[1], u[2]
	g := e.group(t, admin, leaver)
	before := blob(t, e, admin)
	e.send(t, admin, g.ID, before)
	e.send(t, leaver, g.ID)
	wantCode(t, e.convs.RemoveMember(ctx, admin.UserID, g.ID, leaver.UserID), "")
	wantCode(t, e.convs.AddMembers(ctx, admin.UserID, g.ID, []string{newcomer.UserID}), "")
	after := blob(t, e, admin)
	e.send(t, admin, g.ID, after)
	e.send(t, newcomer, g.ID)

	for _, tc := range []struct {
		name   string
		user   *courier.Device
		seqs   []int64
		blobs  map[string]bool
		head   int64
		remove bool
	}{
		{"admin", admin, []int64{1, 2, 3, 4}, map[string]bool{before: true, after: true}, 4, false},
		{"removed", leaver, []int64{1, 2}, map[string]bool{before: true, after: false}, 2, true},
		{"newcomer", newcomer, []int64{3, 4}, map[string]bool{before: false, after: true}, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs, err := e.msgs.Messages(ctx, tc.user.UserID, g.ID, 0, 0, 0)
			if err != nil {
				t.Fatal(err)
			} else if got := seqsOf(msgs); !sameSeqs(got, tc.seqs) {
				t.Fatalf("history %v, want %v", got, tc.seqs)
			}
			for id, want := range tc.blobs {
				if ok, err := e.blobs.CanReadBlob(ctx, tc.user.UserID, id); err != nil || ok != want {
					t.Fatalf("CanReadBlob = %v, %v; want %v", ok, err, want)
				}
			}
			heads, err := e.convs.Heads(ctx, tc.user.UserID)
			if err != nil || len(heads) != 1 || heads[0].LastSeq != tc.head || heads[0].Removed != tc.remove {
				t.Fatalf("heads %+v (%v); want last seq %d removed=%v", heads, err, tc.head, tc.remove)
			}
		})
	}
	// The removed member can no longer act in the conversation.
	_, _, err := e.msgs.Send(ctx, leaver, courier.SendRequest{ConversationID: g.ID, ClientID: "x", Body: []byte("x")})
	wantCode(t, err, courier.ENOTFOUND)
	_, err = e.convs.Conversation(ctx, leaver.UserID, g.ID)
	wantCode(t, err, courier.ENOTFOUND)
	_, _, err = e.msgs.UpdateReceipt(ctx, leaver.UserID, g.ID, courier.ReceiptRead, 2)
	wantCode(t, err, courier.ENOTFOUND)
	list, _, _ := e.convs.Conversations(ctx, leaver.UserID, "", 10)
	if len(list) != 0 {
		t.Fatalf("removed member still lists %d conversations", len(list))
	}
}

// blob creates a blob owned by d and returns its ID.
func blob(t testing.TB, e *env, d *courier.Device) string {
	t.Helper()
	b := &courier.Blob{ID: courier.NewID(), OwnerID: d.UserID, Mode: courier.BlobE2E, State: courier.BlobReady,
		Size: 1, StorageKey: "blobs/x"}
	if _, err := e.blobs.CreateBlob(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b.ID
}

// TestAttachments checks who may attach which blob, and that attaching
// makes a blob readable to the conversation's members only.
func TestAttachments(t *testing.T) {
	e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{})
	ctx := context.Background()
	u := e.users(t, 3)
	a, b, c := u[0], u[1], u[2]
	ab, _ := e.convs.CreateDirect(ctx, a.UserID, b.UserID)
	bc, _ := e.convs.CreateDirect(ctx, b.UserID, c.UserID)
	photo := blob(t, e, a)

	for _, tc := range []struct {
		name string
		from *courier.Device
		conv string
		atts []string
		code string
	}{
		{"someone else's blob", b, ab.ID, []string{photo}, courier.EFORBIDDEN},
		{"unknown blob", a, ab.ID, []string{courier.NewID()}, courier.EFORBIDDEN},
		{"malformed blob id", a, ab.ID, []string{"../x"}, courier.EFORBIDDEN},
		{"own blob, twice", a, ab.ID, []string{photo, photo}, ""},
		{"forward a blob one may read", b, bc.ID, []string{photo}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "forward a blob one may read" {
				if ok, _ := e.blobs.CanReadBlob(ctx, c.UserID, photo); ok {
					t.Fatal("c could read the photo before it was forwarded")
				}
			}
			m, _, err := e.msgs.Send(ctx, tc.from, courier.SendRequest{ConversationID: tc.conv,
				ClientID: courier.NewID(), Attachments: tc.atts})
			wantCode(t, err, tc.code)
			if err == nil && len(m.Attachments) != 1 {
				t.Fatalf("attachments %v, want the one blob", m.Attachments)
			}
		})
	}
	for _, d := range u {
		if ok, err := e.blobs.CanReadBlob(ctx, d.UserID, photo); err != nil || !ok {
			t.Fatalf("user %s cannot read the shared photo: %v", d.UserID, err)
		}
	}
	outsider := e.users(t, 1)[0]
	if ok, _ := e.blobs.CanReadBlob(ctx, outsider.UserID, photo); ok {
		t.Fatal("an outsider can read the photo")
	}
	list, _, _ := e.convs.Conversations(ctx, c.UserID, "", 1)
	if list[0].LastMessage == nil || list[0].LastMessage.Attachments != 1 {
		t.Fatalf("last message %+v, want one attachment", list[0].LastMessage)
	}
}

// TestSendWithMembers checks the members a send returns are those at the
// message's seq, for both group commit and one transaction per message:
// a removed member is not among them, a resend returns none.
func TestSendWithMembers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBatch int
	}{{"group commit", 0}, {"alone", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, postgres.ConversationConfig{}, postgres.MessageConfig{MaxBatch: tc.maxBatch})
			ctx := context.Background()
			u := e.users(t, 3)
			g := e.group(t, u[0], u[1], u[2])
			send := func(clientID string, atts ...string) ([]string, bool) {
				t.Helper()
				_, members, created, err := e.msgs.SendWithMembers(ctx, u[0],
					courier.SendRequest{ConversationID: g.ID, ClientID: clientID, Body: []byte("x"), Attachments: atts})
				if err != nil {
					t.Fatal(err)
				}
				return members, created
			}
			all := []string{u[0].UserID, u[1].UserID, u[2].UserID}
			slices.Sort(all)
			if got, _ := send("a"); !slices.Equal(got, all) {
				t.Fatalf("members %v, want %v", got, all)
			}
			wantCode(t, e.convs.RemoveMember(ctx, u[0].UserID, g.ID, u[2].UserID), "")
			left := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == u[2].UserID })
			if got, _ := send("b", blob(t, e, u[0])); !slices.Equal(got, left) {
				t.Fatalf("after removal, members %v, want %v", got, left)
			}
			// A resend is published again, but only to members who could
			// see the original: not to one who joined after it.
			newcomer := e.users(t, 1)[0]
			wantCode(t, e.convs.AddMembers(ctx, u[0].UserID, g.ID, []string{newcomer.UserID}), "")
			for _, atts := range [][]string{nil, {blob(t, e, u[0])}} {
				got, created := send("b", atts...)
				if created || !slices.Equal(got, left) {
					t.Fatalf("resend (attachments %v): members %v created %v, want %v, not the newcomer", atts, got, created, left)
				}
			}
		})
	}
}
