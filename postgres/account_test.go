package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// TestDevicesOf checks the batched device lookup returns every live device
// of the asked users and nobody else's, and no revoked one.
func TestDevicesOf(t *testing.T) {
	ctx := context.Background()
	accounts := postgres.NewAccountService(testenv.NewDB(t).Pool)
	var first []*courier.Device
	for range 3 {
		_, d, _, err := accounts.CreateAccount(ctx, "user", "phone")
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, d)
	}
	tablet, _, err := accounts.CreateDevice(ctx, first[0].UserID, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	laptop, _, err := accounts.CreateDevice(ctx, first[1].UserID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, accounts.RevokeDevice(ctx, first[1].UserID, laptop.ID), "")

	for _, tc := range []struct {
		name  string
		users []string
		want  []string
	}{
		{"two users", []string{first[0].UserID, first[1].UserID}, []string{first[0].ID, tablet.ID, first[1].ID}},
		{"one", []string{first[2].UserID}, []string{first[2].ID}},
		{"unknown", []string{"nobody"}, nil},
		{"none", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := accounts.DevicesOf(ctx, tc.users)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range got {
				if !slices.Contains(tc.users, d.UserID) {
					t.Fatalf("device %s of user %s, who was not asked for", d.ID, d.UserID)
				}
				ids = append(ids, d.ID)
			}
			slices.Sort(ids)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(ids, want) {
				t.Fatalf("devices %v, want %v", ids, want)
			}
		})
	}
}
