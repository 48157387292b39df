package main

import (
	"encoding/json"
	"strings"
	"testing"
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
