package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestListQuery calls listQuery directly: the SQL and the arguments of each
// filter, sort and keyset position.
func TestListQuery(t *testing.T) {
	yes := true
	due := time.UnixMilli(1700000000000).UTC()
	const from = "SELECT id, version, list_id, "
	const mine = "+list_id IN (SELECT list_id FROM roles WHERE user_id = ?)"
	tests := []struct {
		name  string
		f     Filter
		query string
		args  []any
	}{
		{"everything", Filter{Sort: SortByID}, from + "id, json FROM todos WHERE " + mine + " ORDER BY id ASC", []any{int64(1)}},
		{"a page", Filter{Sort: SortByID, Limit: 101}, from + "id, json FROM todos WHERE " + mine + " ORDER BY id ASC LIMIT ?", []any{int64(1), 101}},
		{"after an id, newest first", Filter{Sort: SortByID, Descending: true, After: &Position{Value: 7, ID: 7}},
			from + "id, json FROM todos WHERE " + mine + " AND id < ? ORDER BY id DESC", []any{int64(1), int64(7)}},
		{"by due, after a place", Filter{Sort: SortByDue, After: &Position{Value: 5, ID: 9}},
			from + "ifnull(due, 9223372036854775807), json FROM todos WHERE " + mine + " AND (ifnull(due, 9223372036854775807), id) > (?, ?) ORDER BY ifnull(due, 9223372036854775807) ASC, id ASC",
			[]any{int64(1), int64(5), int64(9)}},
		{"by order, reversed", Filter{Sort: SortByOrder, Descending: true},
			from + `"order", json FROM todos WHERE ` + mine + ` ORDER BY "order" DESC, id DESC`, []any{int64(1)}},
		{"text: % _ and \\ are literal", Filter{Sort: SortByID, Text: `5%_\`},
			from + `id, json FROM todos WHERE ` + mine + ` AND (title LIKE ? ESCAPE '\' OR notes LIKE ? ESCAPE '\') ORDER BY id ASC`,
			[]any{int64(1), `%5\%\_\\%`, `%5\%\_\\%`}},
		{"every filter", Filter{Sort: SortByUpdatedAt, Completed: &yes, DueBefore: &due, DueAfter: &due, UpdatedSince: &due, Limit: 3},
			from + "updated_at, json FROM todos WHERE " + mine + " AND completed = ? AND due < ? AND due >= ? AND updated_at >= ? ORDER BY updated_at ASC, id ASC LIMIT ?",
			[]any{int64(1), true, int64(1700000000000), int64(1700000000000), int64(1700000000000), 3}},
		{"one list", Filter{Sort: SortByDue, ListID: 4},
			from + "ifnull(due, 9223372036854775807), json FROM todos WHERE +list_id = ? ORDER BY ifnull(due, 9223372036854775807) ASC, id ASC",
			[]any{int64(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			query, args := listQuery(BuiltinUser, tt.f)
			if query != tt.query {
				t.Errorf("query\n%s\nwant\n%s", query, tt.query)
			}
			if !reflect.DeepEqual(args, tt.args) {
				t.Errorf("args %#v, want %#v", args, tt.args)
			}
		})
	}
}

// TestListQueryPlans asks SQLite how it runs each sort, from the head and
// from a cursor, of all todos and of one list: through an index, in order,
// never by sorting the rows (a temporary B-tree), so that a page deep in the
// list costs what the first does.
func TestListQueryPlans(t *testing.T) {
	s := mustOpenStore(t, t.TempDir()+"/plans.db")
	seedTodos(t, s, 100)
	for _, key := range sortKeys {
		if _, ok := sortExpr[key]; !ok {
			t.Fatalf("sort key %q has no SQL", key)
		}
		for _, desc := range []bool{false, true} {
			for _, after := range []*Position{nil, {Value: 50, ID: 50}} {
				for _, list := range []int64{0, 1} {
					f := Filter{Sort: key, Descending: desc, After: after, Limit: 10, ListID: list}
					query, args := listQuery(BuiltinUser, f)
					rows, err := s.readDB.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
					if err != nil {
						t.Fatal(err)
					}
					var plan []string
					for rows.Next() {
						var id, parent, unused int
						var detail string
						if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
							t.Fatal(err)
						}
						plan = append(plan, detail)
					}
					rows.Close()
					if p := strings.Join(plan, "; "); strings.Contains(p, "TEMP B-TREE") || !strings.Contains(p, "todos USING INDEX") && key != SortByID {
						t.Errorf("sort %s desc=%t after=%v list %d: plan %q", key, desc, after, list, p)
					}
				}
			}
		}
	}
}
