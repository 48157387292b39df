package main

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseFilter calls parseFilter directly: what each parameter sets, and
// which parameters a bad query names.
func TestParseFilter(t *testing.T) {
	yes, no := true, false
	at := func(s string) *time.Time {
		tm, err := ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		return &tm
	}
	cursor := encodeCursor(Filter{Sort: SortByDue, Descending: true}, Position{Value: 1700000000000, ID: 42})
	tests := []struct {
		query string
		want  Filter
		bad   []string // the parameters the 400 names, sorted
	}{
		{"", Filter{Sort: SortByID}, nil},
		{"completed=true", Filter{Sort: SortByID, Completed: &yes}, nil},
		{"completed=false", Filter{Sort: SortByID, Completed: &no}, nil},
		{"q=%25_+x", Filter{Sort: SortByID, Text: "%_ x"}, nil},
		{"due_before=2026-11-22T12:00:00%2B02:00", Filter{Sort: SortByID, DueBefore: at("2026-11-22T10:00:00Z")}, nil},
		{"due_after=2026-01-01T00:00:00.1234Z&updated_since=2026-01-01T00:00:00Z",
			Filter{Sort: SortByID, DueAfter: at("2026-01-01T00:00:00.123Z"), UpdatedSince: at("2026-01-01T00:00:00Z")}, nil},
		{"sort=-updated_at&limit=1000", Filter{Sort: SortByUpdatedAt, Descending: true, Limit: 1000}, nil},
		{"sort=-due&cursor=" + cursor, Filter{Sort: SortByDue, Descending: true, After: &Position{Value: 1700000000000, ID: 42}}, nil},
		{"completed=1", Filter{}, []string{"completed"}},
		{"q=%ff", Filter{}, []string{"q"}},
		{"q=" + strings.Repeat("%C3%A9", maxQueryText), Filter{Sort: SortByID, Text: strings.Repeat("é", maxQueryText)}, nil},
		{"q=" + strings.Repeat("_", maxQueryText+1), Filter{}, []string{"q"}},
		{"q=a%00", Filter{}, []string{"q"}},
		{"due_before=2026-01-01", Filter{}, []string{"due_before"}},
		{"updated_since=2026-01-01T00:00:00+02:00", Filter{}, []string{"updated_since"}}, // + is a space
		{"sort=title", Filter{}, []string{"sort"}},
		{"sort=--id", Filter{}, []string{"sort"}},
		{"limit=0", Filter{}, []string{"limit"}},
		{"limit=1001", Filter{}, []string{"limit"}},
		{"limit=1e2", Filter{}, []string{"limit"}},
		{"sort=due&cursor=" + cursor, Filter{}, []string{"cursor"}}, // another direction
		{"cursor=abc", Filter{}, []string{"cursor"}},
		{"page=2", Filter{}, []string{"page"}},
		{"completed=true&completed=true", Filter{}, []string{"completed"}},
		{"=1", Filter{}, []string{"query"}},
		{"%zz", Filter{}, []string{"query"}},
		{"sort=x&limit=0&page=1&q=%ff", Filter{}, []string{"limit", "page", "q", "sort"}},
		{"sort=x&cursor=" + cursor, Filter{}, []string{"sort"}}, // no cursor is read beside a bad parameter
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got, err := parseFilter(tt.query, listParameters...)
			if tt.bad == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != EMALFORMED {
				t.Fatalf("error %v, want EMALFORMED", err)
			}
			var names []string
			for _, p := range e.Fields {
				names = append(names, p.Field)
			}
			if !slices.Equal(names, tt.bad) {
				t.Errorf("names %v, want %v", names, tt.bad)
			}
		})
	}
	// DELETE /v1/todos takes only completed.
	if _, err := parseFilter("q=x", "completed"); ErrorCode(err) != EMALFORMED {
		t.Errorf("q on a route that takes only completed: %v", err)
	}
}

// TestCursor: a cursor gives back the place it was made of, for its own sort
// and direction only.
func TestCursor(t *testing.T) {
	for _, key := range sortKeys {
		for _, desc := range []bool{false, true} {
			f := Filter{Sort: key, Descending: desc}
			for _, at := range []Position{{0, 1}, {-9223372036854775808, 9223372036854775807}, {9223372036854775807, 5}} {
				t.Run(encodeCursor(f, at), func(t *testing.T) {
					got, ok := decodeCursor(f, encodeCursor(f, at))
					if !ok || *got != at {
						t.Errorf("%+v gave back %+v, %t", at, got, ok)
					}
					other := Filter{Sort: key, Descending: !desc}
					if _, ok := decodeCursor(other, encodeCursor(f, at)); ok {
						t.Error("a cursor was taken by the other direction")
					}
				})
			}
		}
	}
	f := Filter{Sort: SortByID}
	for _, bad := range []string{"", "!!", "aWQ6ZmFsc2U6MA", encodeCursor(Filter{Sort: SortByOrder}, Position{1, 2}),
		encodeCursor(f, Position{1, -1}), "aWQ6ZmFsc2U6eDox" /* id:false:x:1 */} {
		if _, ok := decodeCursor(f, bad); ok {
			t.Errorf("cursor %q was taken", bad)
		}
	}
}

// TestReadETags: If-Match is compared strongly, If-None-Match weakly, and a
// tag that the service did not write names no version.
func TestReadETags(t *testing.T) {
	tests := []struct {
		name        string
		values      []string
		ifMatch     *Versions
		ifNoneMatch *Versions
	}{
		{"no header", nil, nil, nil},
		{"one tag", []string{`"3"`}, &Versions{List: []int64{3}}, &Versions{List: []int64{3}}},
		{"a list, spaced", []string{` "1" ,"2"`, `"3"`}, &Versions{List: []int64{1, 2, 3}}, &Versions{List: []int64{1, 2, 3}}},
		{"any", []string{"*"}, &Versions{Any: true}, &Versions{Any: true}},
		{"weak", []string{`W/"3"`}, &Versions{}, &Versions{List: []int64{3}}},
		{"not ours", []string{`"x", "01", "+1", 3, "", "9223372036854775808"`}, &Versions{}, &Versions{}},
		{"empty", []string{""}, &Versions{}, &Versions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"If-Match": tt.values, "If-None-Match": tt.values}
			if got := ifMatch(h); !reflect.DeepEqual(got, tt.ifMatch) {
				t.Errorf("If-Match: %+v, want %+v", got, tt.ifMatch)
			}
			if got := ifNoneMatch(h); !reflect.DeepEqual(got, tt.ifNoneMatch) {
				t.Errorf("If-None-Match: %+v, want %+v", got, tt.ifNoneMatch)
			}
		})
	}
	// What etag writes, versionOf reads.
	for _, v := range []int64{1, 42, 9223372036854775807} {
		if got, ok := versionOf(etag(v)); !ok || got != v {
			t.Errorf("versionOf(%s) = %d, %t", etag(v), got, ok)
		}
	}
}

// TestParseID: only a plain positive integer is an id.
func TestParseID(t *testing.T) {
	for id, want := range map[string]int64{"1": 1, "42": 42, "9223372036854775807": 9223372036854775807,
		"0": 0, "-1": 0, "01": 0, "+1": 0, "1.5": 0, "1e3": 0, "abc": 0, "": 0, " 1": 0, "9223372036854775808": 0} {
		r := httptest.NewRequest("GET", "/v1/todos/x", nil)
		r.SetPathValue("id", id)
		got, err := parseID(r)
		if want == 0 && ErrorCode(err) != EMALFORMED || want != 0 && (err != nil || got != want) {
			t.Errorf("parseID(%q) = %d, %v", id, got, err)
		}
	}
}
