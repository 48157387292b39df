package main

import (
	"testing"
	"time"
)

// TestParseTime: RFC 3339 as section 5.6 has it, and only times whose year in
// UTC can be written back.
func TestParseTime(t *testing.T) {
	valid := map[string]string{
		"2026-11-22T10:04:05Z":             "2026-11-22T10:04:05.000Z",
		"2026-11-22t10:04:05z":             "2026-11-22T10:04:05.000Z", // lower case, as 5.6 allows
		"2026-11-22T10:04:05.123456+02:00": "2026-11-22T08:04:05.123Z",
		"2026-11-22T10:04:05.1-00:00":      "2026-11-22T10:04:05.100Z",
		"2026-11-22T10:04:05+23:59":        "2026-11-21T10:05:05.000Z",
		"0001-01-01T00:00:00Z":             "0001-01-01T00:00:00.000Z",
		"0001-01-01T10:00:00+09:59":        "0001-01-01T00:01:00.000Z",
		"9999-12-31T23:59:59.999Z":         "9999-12-31T23:59:59.999Z",
		"2024-02-29T00:00:00Z":             "2024-02-29T00:00:00.000Z",
	}
	for in, want := range valid {
		got, err := ParseTime(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if s := string(appendJSONTime(nil, &Timestamp{got})); s != `"`+want+`"` {
			t.Errorf("%s: %s, want %s", in, s, want)
		}
		if back, err := ParseTime(want); err != nil || !back.Equal(got) {
			t.Errorf("%s written as %s does not read back: %v", in, want, err)
		}
	}
	for _, in := range []string{
		"0000-01-01T00:00:00+14:00",     // was written back as -0001-12-31T10:00:00.000Z
		"9999-12-31T23:59:59.999-14:00", // was written back as 10000-01-01T13:59:59.999Z
		"0001-01-01T00:00:00+00:01",     // year 0 in UTC
		"0000-06-01T00:00:00Z",
		"2026-11-22T10:04:05+24:00", "2026-11-22T10:04:05-24:00", "2026-11-22T10:04:05+02:60",
		"2026-11-22T10:04:05,123Z", "2026-11-22T10:04:05.Z", "2026-11-22T10:04:05.123",
		"2026-11-22 10:04:05Z", "2026-11-22T10:04:05", "2026-11-22", "2026-11-22T10:04Z",
		"2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:04:60Z", "2026-13-01T00:00:00Z",
		"+2026-11-22T10:04:05Z", "2026-11-22T10:04:05+0200", "2026-11-22T10:04:05+2:00", "2026-11-22T10:04:05ZZ",
		"２０２６-11-22T10:04:05Z", "", "2026-11-22T10:04:05 Z", " 2026-11-22T10:04:05Z",
	} {
		if got, err := ParseTime(in); err == nil {
			t.Errorf("%q was taken, as %s", in, got.Format(time.RFC3339Nano))
		}
	}
}
