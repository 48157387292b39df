package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAppendJSONString checks the hand-written JSON string encoder against
// encoding/json: both must read back as the same string, for any bytes.
func TestAppendJSONString(t *testing.T) {
	inputs := []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f",
		"é ü 日本 🙂", "\u2028\u2029", "</script>&", "bad \xff\xfe utf-8", "cut \xe6\x97", strings.Repeat("a\"", 100)}
	for i := range 500 { // and some random bytes
		b := make([]byte, i%40)
		for j := range b {
			b[j] = byte((i*7919 + j*104729) % 256)
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		got := appendJSONString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("%q: invalid JSON %s", s, got)
		}
		want, _ := json.Marshal(s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%q: reads back as %q, encoding/json's as %q", s, a, b)
		}
	}
}

// randomText returns a string of n pieces drawn from what makes JSON
// encoders differ: quotes, backslashes, every control character, HTML's
// characters, line separators, many scripts, emoji and invalid UTF-8.
func randomText(rng *rand.Rand, n int) string {
	pieces := []string{"a", "Z", " ", `"`, `\`, "/", "<", ">", "&", "\u2028", "\u2029", "é", "日本", "🙂", "\u00a0",
		"\x7f", "\xff", "\xe6\x97", "\xed\xa0\x80", "\ufffd", "\ufeff"}
	var b strings.Builder
	for range n {
		if rng.IntN(4) == 0 {
			b.WriteByte(byte(rng.IntN(0x20))) // a control character
		} else {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
	}
	return b.String()
}

// randomTimestamp returns an instant in the years 0001 to 9999, to the millisecond, or nil.
func randomTimestamp(rng *rand.Rand, nullable bool) *Timestamp {
	if nullable && rng.IntN(3) == 0 {
		return nil
	}
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli()
	return &Timestamp{time.UnixMilli(lo + rng.Int64N(hi-lo+1)).UTC()}
}

// jsonMembers decodes a JSON object into its member names, in order, and values.
func jsonMembers(t *testing.T, b []byte) ([]string, map[string]any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not an object (%v)", b, err)
	}
	var names []string
	values := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		name := tok.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		names, values[name] = append(names, name), v
	}
	return names, values
}

// TestRenderIsEncodingJSON holds the hand-written encoder to the declared
// shape: for many random todos, Render and AppendJSON write the same members,
// in the same order, with the same values, as encoding/json of the Todo.
func TestRenderIsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const collection = "https://todo.example/api/v1/todos/"
	for i := range 2000 {
		td := Todo{ID: 1 + rng.Int64N(maxJSONInt), Title: randomText(rng, rng.IntN(12)), Notes: randomText(rng, rng.IntN(40)),
			Completed: rng.IntN(2) == 0, Order: rng.Int64() - rng.Int64(), Due: randomTimestamp(rng, true),
			CreatedAt: *randomTimestamp(rng, false), UpdatedAt: *randomTimestamp(rng, false),
			CompletedAt: randomTimestamp(rng, true), Version: rng.Int64()}
		if i == 0 { // the zero todo, nulls and empty strings
			td = Todo{ID: 1}
		}
		td.URL = collection + strconv.FormatInt(td.ID, 10)
		want, err := json.Marshal(td)
		if err != nil {
			t.Fatal(err)
		}
		got := td.Render().AppendJSON(nil, collection)
		if !json.Valid(got) {
			t.Fatalf("%+v: invalid JSON %s", td, got)
		}
		gotNames, gotValues := jsonMembers(t, got)
		wantNames, wantValues := jsonMembers(t, want)
		if !slices.Equal(gotNames, wantNames) || !reflect.DeepEqual(gotValues, wantValues) {
			t.Fatalf("todo %+v:\nhand-written  %s\nencoding/json %s", td, got, want)
		}
	}
}

// serverOwned are the fields of a Todo that the server sets, never a client:
// the no-change check must ignore them, and check every other field.
var serverOwned = []string{"ID", "CreatedAt", "UpdatedAt", "CompletedAt", "URL", "Version"}

// TestSameContentCoversEveryField fails when a field is added to Todo and
// sameContent does not compare it: a PATCH of only that field would then be
// taken for no change, and silently dropped.
func TestSameContentCoversEveryField(t *testing.T) {
	base := Todo{ID: 1, Title: "a", Notes: "n", Order: 3, Due: &Timestamp{time.UnixMilli(1e12).UTC()},
		CreatedAt: Timestamp{time.UnixMilli(1e12).UTC()}, UpdatedAt: Timestamp{time.UnixMilli(1e12).UTC()}, Version: 1}
	typ := reflect.TypeFor[Todo]()
	for i := range typ.NumField() {
		field := typ.Field(i)
		t.Run(field.Name, func(t *testing.T) {
			changed := base
			v := reflect.ValueOf(&changed).Elem().Field(i)
			switch v.Interface().(type) {
			case string:
				v.SetString(v.String() + "x")
			case bool:
				v.SetBool(!v.Bool())
			case int64:
				v.SetInt(v.Int() + 1)
			case Timestamp:
				v.Set(reflect.ValueOf(Timestamp{time.UnixMilli(2e12).UTC()}))
			case *Timestamp:
				if v.IsNil() {
					v.Set(reflect.ValueOf(&Timestamp{time.UnixMilli(2e12).UTC()}))
				} else {
					v.Set(reflect.Zero(field.Type))
				}
			default:
				t.Fatalf("field %s of type %s: teach this test to change it", field.Name, field.Type)
			}
			if owned := slices.Contains(serverOwned, field.Name); sameContent(base, changed) != owned {
				t.Errorf("sameContent(%+v, %+v) = %t: a change to %s, which a client %s", base, changed, !owned, field.Name,
					map[bool]string{true: "cannot write, must not count", false: "can write, must count"}[owned])
			}
		})
	}
	// The same instant is the same due time, whatever its location.
	sameDue := base
	sameDue.Due = &Timestamp{base.Due.In(time.FixedZone("x", 3600))}
	if !sameContent(base, sameDue) {
		t.Error("the same due time in another zone counted as a change")
	}
}

// TestApplyTo calls the field rules of a merge patch directly.
func TestApplyTo(t *testing.T) {
	due := Timestamp{time.Date(2026, 11, 22, 10, 4, 5, 123e6, time.UTC)}
	start := Todo{Title: "a", Notes: "n", Completed: true, Order: 5, Due: &due}
	str := func(s string) Optional[string] { return Optional[string]{Present: true, Value: s} }
	null := Optional[string]{Present: true, Null: true}
	tests := []struct {
		name     string
		in       TodoInput
		want     Todo
		problems []string
	}{
		{"nothing", TodoInput{}, start, nil},
		{"title trimmed", TodoInput{Title: str(" \tb\n")}, Todo{Title: "b", Notes: "n", Completed: true, Order: 5, Due: &due}, nil},
		{"notes null clears", TodoInput{Notes: null}, Todo{Title: "a", Completed: true, Order: 5, Due: &due}, nil},
		{"due null clears", TodoInput{Due: null}, Todo{Title: "a", Notes: "n", Completed: true, Order: 5}, nil},
		{"due in UTC to the ms", TodoInput{Due: str("2026-11-22T12:04:05.123999+02:00")}, start, nil},
		{"completed false", TodoInput{Completed: Optional[bool]{Present: true}}, Todo{Title: "a", Notes: "n", Order: 5, Due: &due}, nil},
		{"order", TodoInput{Order: Optional[int64]{Present: true, Value: -maxJSONInt}}, Todo{Title: "a", Notes: "n", Completed: true, Order: -maxJSONInt, Due: &due}, nil},
		{"title null", TodoInput{Title: null}, Todo{}, []string{"title"}},
		{"title blank", TodoInput{Title: str("  ")}, Todo{}, []string{"title"}},
		{"title too long", TodoInput{Title: str(strings.Repeat("é", maxTitleLen+1))}, Todo{}, []string{"title"}},
		{"title of the longest", TodoInput{Title: str(strings.Repeat("é", maxTitleLen))}, Todo{Title: strings.Repeat("é", maxTitleLen), Notes: "n", Completed: true, Order: 5, Due: &due}, nil},
		{"title with a tab inside", TodoInput{Title: str("a\tb")}, Todo{}, []string{"title"}},
		{"notes with a bell", TodoInput{Notes: str("a\u0007")}, Todo{}, []string{"notes"}},
		{"notes with new lines", TodoInput{Notes: str("a\r\n\tb")}, Todo{Title: "a", Notes: "a\r\n\tb", Completed: true, Order: 5, Due: &due}, nil},
		{"notes too long", TodoInput{Notes: str(strings.Repeat("x", maxNotesLen+1))}, Todo{}, []string{"notes"}},
		{"completed null", TodoInput{Completed: Optional[bool]{Present: true, Null: true}}, Todo{}, []string{"completed"}},
		{"order null", TodoInput{Order: Optional[int64]{Present: true, Null: true}}, Todo{}, []string{"order"}},
		{"order beyond 2^53", TodoInput{Order: Optional[int64]{Present: true, Value: maxJSONInt + 1}}, Todo{}, []string{"order"}},
		{"due a date", TodoInput{Due: str("2026-11-22")}, Todo{}, []string{"due"}},
		{"every rule, in field order", TodoInput{Title: str(""), Notes: str("\x00"), Completed: Optional[bool]{Present: true, Null: true},
			Order: Optional[int64]{Present: true, Null: true}, Due: str("soon")}, Todo{}, []string{"title", "notes", "completed", "order", "due"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := start
			var names []string
			for _, p := range tt.in.ApplyTo(&got) {
				names = append(names, p.Field)
			}
			if !slices.Equal(names, tt.problems) {
				t.Fatalf("problems %v, want %v", names, tt.problems)
			}
			if tt.problems == nil && (!sameContent(got, tt.want) || got.Completed != tt.want.Completed) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestTodoUpdateApply: the precondition comes before the field rules, a
// replacement takes the defaults, and a failed update leaves the todo as it was.
func TestTodoUpdateApply(t *testing.T) {
	old := Todo{ID: 7, Title: "a", Notes: "n", Completed: true, Order: 5, Version: 3}
	title := Optional[string]{Present: true, Value: "b"}
	empty := Optional[string]{Present: true}
	tests := []struct {
		name   string
		update TodoUpdate
		want   Todo
		code   string
	}{
		{"patch", TodoUpdate{Input: TodoInput{Title: title}}, Todo{ID: 7, Title: "b", Notes: "n", Completed: true, Order: 5, Version: 3}, ""},
		{"replace", TodoUpdate{Input: TodoInput{Title: title}, Replace: true}, Todo{Title: "b"}, ""},
		{"replace without a title", TodoUpdate{Input: TodoInput{Notes: empty}, Replace: true}, old, EINVALID},
		{"If-Match of the version", TodoUpdate{Input: TodoInput{Title: title}, IfMatch: &Versions{List: []int64{2, 3}}}, Todo{ID: 7, Title: "b", Notes: "n", Completed: true, Order: 5, Version: 3}, ""},
		{"If-Match *", TodoUpdate{IfMatch: &Versions{Any: true}}, old, ""},
		{"If-Match of another version", TodoUpdate{Input: TodoInput{Title: title}, IfMatch: &Versions{List: []int64{2}}}, old, EPRECONDITION},
		{"If-Match naming no version", TodoUpdate{IfMatch: &Versions{}}, old, EPRECONDITION},
		{"412 before 422", TodoUpdate{Input: TodoInput{Title: empty}, IfMatch: &Versions{List: []int64{2}}}, old, EPRECONDITION},
		{"422 when the version matches", TodoUpdate{Input: TodoInput{Title: empty}, IfMatch: &Versions{List: []int64{3}}}, old, EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.update.Apply(old)
			if code := ErrorCode(err); err != nil && code != tt.code || err == nil && tt.code != "" {
				t.Fatalf("error %v, want code %q", err, tt.code)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestStamp: the server's fields after a create, an update, a completion.
func TestStamp(t *testing.T) {
	t0, t1 := time.UnixMilli(1e12).UTC(), time.UnixMilli(2e12).UTC()
	created := Todo{Title: "a", Completed: true}
	created.stamp(nil, t0)
	if created.Version != FirstVersion || created.CreatedAt.Time != t0 || created.UpdatedAt.Time != t0 || created.CompletedAt.Time != t0 {
		t.Errorf("created %+v", created)
	}
	created.ID = 9
	still := Todo{Title: "b", Completed: true}
	still.stamp(&created, t1)
	if still.ID != 9 || still.Version != 2 || still.CreatedAt.Time != t0 || still.UpdatedAt.Time != t1 || still.CompletedAt.Time != t0 {
		t.Errorf("completed again %+v: completed_at must stay", still)
	}
	reopened := Todo{Title: "b"}
	reopened.stamp(&still, t1)
	if reopened.CompletedAt != nil || reopened.Version != 3 {
		t.Errorf("reopened %+v", reopened)
	}
}

// TestHasUnpairedSurrogate: half of a surrogate pair, escaped, is found;
// a whole pair, an escaped backslash before "ud800", and plain text are not.
func TestHasUnpairedSurrogate(t *testing.T) {
	for value, want := range map[string]bool{
		`"\ud800"`: true, `"\udc00"`: true, `"a\uD800b"`: true, `"\ud800\u0041"`: true, `"\ud800\ud800\udc00"`: true,
		`"\ud83d\ude00"`: false, `"\\ud800"`: false, `"\\\ud800"`: true, `"\u00e9\n\""`: false, `"ud800"`: false,
		`"\ud83d\ude00\udc00"`: true, `"\ud800`: true, `"\ud80"`: false, `true`: false, `12`: false,
	} {
		if got := hasUnpairedSurrogate([]byte(value)); got != want {
			t.Errorf("%s: %t, want %t", value, got, want)
		}
	}
}
