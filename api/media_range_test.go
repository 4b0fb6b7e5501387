package api

import (
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		h                   string
		size, start, length int64
		ok, satisfiable     bool
	}{
		{"bytes=0-9", 100, 0, 10, true, true},
		{"bytes=90-", 100, 90, 10, true, true},
		{"bytes=-10", 100, 90, 10, true, true},
		{"bytes=-500", 100, 0, 100, true, true},
		{"bytes=50-5000", 100, 50, 50, true, true},
		{"bytes=100-", 100, 0, 0, false, false},
		{"bytes=-0", 100, 0, 0, false, false},
		{"bytes=0-1,3-4", 100, 0, 0, false, true},
		{"items=0-1", 100, 0, 0, false, true},
		{"bytes=9-1", 100, 0, 0, false, true},
		{"bytes=x-1", 100, 0, 0, false, true},
		{"bytes=0-0", 0, 0, 0, false, false},
	} {
		start, length, ok, sat := parseRange(tc.h, tc.size)
		if start != tc.start || length != tc.length || ok != tc.ok || sat != tc.satisfiable {
			t.Errorf("parseRange(%q, %d) = %d %d %v %v, want %d %d %v %v", tc.h, tc.size,
				start, length, ok, sat, tc.start, tc.length, tc.ok, tc.satisfiable)
		}
	}
}

func TestContentDisposition(t *testing.T) {
	for _, tc := range []struct{ ct, name, want string }{
		{"image/jpeg", "a.jpg", `inline; filename="a.jpg"; filename*=UTF-8''a.jpg`},
		{"text/html", "../../x\".html", `attachment; filename="x_.html"; filename*=UTF-8''x%22.html`},
		{"application/pdf", "", "attachment"},
		{"video/mp4", "C:\\Users\\me\\été.mov", `inline; filename="_t_.mov"; filename*=UTF-8''%C3%A9t%C3%A9.mov`},
	} {
		if got := contentDisposition(tc.ct, tc.name); got != tc.want {
			t.Errorf("contentDisposition(%q, %q) = %q, want %q", tc.ct, tc.name, got, tc.want)
		}
	}
}

// FuzzParseRange: any Range header must give a range inside the object or
// none at all.
func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-9", "bytes=-5", "bytes=5-", "bytes=1-2,3-4", "bytes=--1"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return // sizes come from the database, never negative
		}
		start, length, ok, _ := parseRange(h, size)
		if ok && (start < 0 || length <= 0 || start+length > size) {
			t.Fatalf("parseRange(%q, %d) = %d+%d outside the object", h, size, start, length)
		}
	})
}

// FuzzContentDisposition: no filename may break out of the header.
func FuzzContentDisposition(f *testing.F) {
	f.Add("a\r\nSet-Cookie: x.jpg")
	f.Fuzz(func(t *testing.T, name string) {
		if v := contentDisposition("image/jpeg", name); strings.ContainsAny(v, "\r\n\x00") {
			t.Fatalf("header value %q", v)
		}
	})
}
