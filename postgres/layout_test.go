package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/migrations"
	"github.com/courier-chat/courier/postgres"
)

// TestMain records every statement the package's tests run and, when they
// pass, checks that each one reads the conversation-keyed tables by
// conversation (docs/scaling.md): a distributed PostgreSQL (Citus, with
// conversation_id as the distribution column) routes such a statement to
// one shard, and sends any other to every shard. A statement that must
// read across conversations says so with a "scatter:" comment naming why;
// the check lists those and lets them pass.
func TestMain(m *testing.M) {
	rec := &statements{seen: map[string][]any{}}
	testenv.Tracer = rec
	code := m.Run()
	if code == 0 && !testing.Short() {
		if err := checkConversationKeyed(rec); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: conversation-keyed statements:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// keyedTables are the tables distributed by conversation, each with the
// column that holds the conversation's ID.
var keyedTables = map[string]string{
	"conversations":        "id",
	"conversation_members": "conversation_id",
	"messages":             "conversation_id",
	"message_attachments":  "conversation_id",
}

var (
	mentionsKeyed = regexp.MustCompile(`\b(conversations|conversation_members|messages|message_attachments)\b`)
	// dml is a statement a plan can be shown for (not a migration's DDL),
	// after any leading comments.
	dml = regexp.MustCompile(`(?is)^\s*(--[^\n]*\n\s*)*(SELECT|WITH|INSERT|UPDATE|DELETE)\b`)
)

// statements is a pgx tracer keeping each distinct statement with the
// arguments of its first run.
type statements struct {
	mu   sync.Mutex
	seen map[string][]any
}

func (s *statements) add(sql string, args []any) {
	if !mentionsKeyed.MatchString(sql) || !dml.MatchString(sql) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[sql]; !ok {
		s.seen[sql] = slices.Clone(args)
	}
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.add(d.SQL, d.Args)
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (s *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (s *statements) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.add(d.SQL, d.Args)
}

func (s *statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// checkConversationKeyed plans every recorded statement in a fresh schema
// and fails on a scan of a conversation-keyed table that no condition of
// the plan ties to one conversation (its key column compared with a value,
// or joined to another table's conversation ID).
func checkConversationKeyed(rec *statements) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, testenv.DatabaseURL())
	if err != nil {
		return err
	}
	defer admin.Close(context.Background())
	schema := testenv.Name("layout_")
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	pool, err := postgres.Open(ctx, postgres.Config{URL: testenv.DatabaseURL(), Schema: schema, MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		return err
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var problems, scatter []string
	for _, sql := range slices.Sorted(maps.Keys(rec.seen)) {
		if reason, ok := scatterReason(sql); ok {
			scatter = append(scatter, reason)
			continue
		}
		plan, err := explain(ctx, pool, sql, rec.seen[sql])
		if err != nil {
			return fmt.Errorf("explain %s: %w", oneLine(sql), err)
		}
		if os.Getenv("COURIER_LAYOUT_DEBUG") != "" {
			b, _ := json.MarshalIndent(plan, "", " ")
			fmt.Fprintf(os.Stderr, "== %s\n%s\n", oneLine(sql), b)
		}
		for _, rel := range unkeyedScans(plan) {
			problems = append(problems, fmt.Sprintf("%s is read without its conversation in: %s", rel, oneLine(sql)))
		}
	}
	if len(rec.seen) == 0 {
		return fmt.Errorf("no statement was recorded: is testenv.Tracer wired to the pools?")
	}
	fmt.Fprintf(os.Stderr, "conversation-keyed statements: %d checked, %d scatter by design:\n", len(rec.seen), len(scatter))
	for _, r := range slices.Compact(slices.Sorted(slices.Values(scatter))) {
		fmt.Fprintln(os.Stderr, "  scatter:", r)
	}
	if len(problems) > 0 {
		return fmt.Errorf("\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

var scatterComment = regexp.MustCompile(`/\* scatter: ([^*]+)\*/`)

// scatterReason returns the reason a statement gives for reading across
// conversations.
func scatterReason(sql string) (string, bool) {
	m := scatterComment.FindStringSubmatch(sql)
	if m == nil {
		return "", false
	}
	return strings.TrimSpace(m[1]), true
}

// explain returns the statement's plan, without running it.
func explain(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, sql string, args []any) (map[string]any, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	var out []byte
	if err := tx.QueryRow(ctx, `EXPLAIN (VERBOSE, FORMAT JSON) `+sql, args...).Scan(&out); err != nil {
		return nil, err
	}
	var plans []struct{ Plan map[string]any }
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		return nil, fmt.Errorf("plan %s: %v", out, err)
	}
	return plans[0].Plan, nil
}

// unkeyedScans returns the conversation-keyed relations the plan scans
// without tying them to given conversations. A scan is tied when a
// condition anywhere in the plan compares its key column with a value (a
// parameter, a constant, ANY of either, an init plan's result), or with
// the key column of a scan that is tied: a join on conversation IDs stays
// on one shard, but only as far as one side of it is pinned.
func unkeyedScans(plan map[string]any) []string {
	var conds []string
	scans := map[string]string{} // alias → relation
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		for _, k := range []string{"Index Cond", "Filter", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "TID Cond"} {
			if c, ok := n[k].(string); ok {
				conds = append(conds, c)
			}
		}
		if rel, ok := n["Relation Name"].(string); ok && strings.Contains(n["Node Type"].(string), "Scan") {
			if _, keyed := keyedTables[rel]; keyed {
				alias, _ := n["Alias"].(string)
				scans[alias] = rel
			}
		}
		children, _ := n["Plans"].([]any)
		for _, c := range children {
			walk(c.(map[string]any))
		}
	}
	walk(plan)

	// key returns the alias whose key column operand is, if it is one.
	key := func(operand string) (string, bool) {
		alias, col, ok := strings.Cut(operand, ".")
		if !ok {
			return "", false
		}
		rel, scanned := scans[alias]
		return alias, scanned && keyedTables[rel] == col
	}
	tied := map[string]bool{}
	var joins [][2]string
	for _, c := range conds {
		for _, m := range equality.FindAllStringSubmatch(c, -1) {
			l, r := m[1], m[2]
			la, lk := key(l)
			ra, rk := key(r)
			switch {
			case lk && rk:
				joins = append(joins, [2]string{la, ra})
			case lk && isValue(r):
				tied[la] = true
			case rk && isValue(l):
				tied[ra] = true
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, j := range joins {
			if tied[j[0]] != tied[j[1]] {
				tied[j[0]], tied[j[1]], changed = true, true, true
			}
		}
	}
	var out []string
	for _, alias := range slices.Sorted(maps.Keys(scans)) {
		if !tied[alias] {
			out = append(out, scans[alias]+" "+alias)
		}
	}
	return out
}

// equality finds "a = b" in a plan's conditions, where each side is a
// column (alias.column), a parameter, a constant, or (on the right) ANY of
// an array.
var equality = regexp.MustCompile(`((?:'(?:[^']|'')*'(?:::[\w ]+)?|\$\d+|\w+\.\w+)) = ((?:ANY \((?:[^()]|\([^()]*\))*\)|'(?:[^']|'')*'(?:::[\w ]+)?|\$\d+|\w+\.\w+))`)

// isValue reports whether an operand is a parameter, a constant, or ANY of
// one (not a column).
func isValue(operand string) bool {
	operand = strings.TrimPrefix(operand, "ANY (")
	return strings.HasPrefix(operand, "$") || strings.HasPrefix(operand, "'")
}

func oneLine(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
