package client

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The unread count reads the covering index (migration 5), not a row per
// unread message: with thousands unread that lookup was most of a first
// screen (docs/client.md, "Measured figures").
func TestStore_UnreadCountIsCovered(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+unreadQuery, "conv", 0, "me")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "COVERING INDEX messages_unread") {
		t.Fatalf("unread count plan: %s", p)
	}
}
