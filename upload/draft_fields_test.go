package upload

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
)

var sfDigits = regexp.MustCompile(`^[0-9]{1,15}$`)

func TestSFNonNegative(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"007", 7, true}, {"999999999999999", 999999999999999, true},
		{"", 0, false}, {"+5", 0, false}, {"-0", 0, false}, {"-5", 0, false}, {" 5", 0, false},
		{"5.0", 0, false}, {"1000000000000000", 0, false}, {"9223372036854775807", 0, false}, {"0x10", 0, false},
	} {
		if got, ok := sfNonNegative(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("sfNonNegative(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzDraftFields feeds untrusted values of the draft's header fields
// (Upload-Offset, Upload-Length, the completeness header, Content-Length)
// through their parsers, in every interop version: none may panic, an
// accepted integer is 1 to 15 digits and reads back as itself, an
// accepted completeness is ?0 or ?1, and a declared length is never
// negative and agrees with the request.
func FuzzDraftFields(f *testing.F) {
	f.Add("8", "?1", "0", "100", int64(100))
	f.Add("3", "?0", "25", "", int64(-1))
	f.Add("6", "?1", "999999999999999", "1", int64(9223372036854775807))
	f.Add("7", "?2", "+5", "-1", int64(0))
	f.Add("4", "?1", "9223372036854775807", "00", int64(3))
	f.Fuzz(func(t *testing.T, version, complete, offset, length string, contentLength int64) {
		off, ok := sfNonNegative(offset)
		if ok != sfDigits.MatchString(offset) {
			t.Fatalf("sfNonNegative(%q) ok = %v", offset, ok)
		}
		if ok {
			if back, err := strconv.ParseInt(offset, 10, 64); err != nil || back != off {
				t.Fatalf("sfNonNegative(%q) = %d", offset, off)
			}
		}
		if _, ok := sfBool(complete); ok != (complete == "?0" || complete == "?1") {
			t.Fatalf("sfBool(%q) ok = %v", complete, ok)
		}
		d, known := drafts[version]
		if !known {
			return
		}
		r := httptest.NewRequest("PATCH", "/v1/uploads/x", nil)
		r.Header[d.completeHeader()] = []string{complete}
		r.Header["Upload-Length"] = []string{length}
		r.ContentLength = contentLength
		done, ok := d.requestComplete(r)
		if !ok && done && !d.incomplete {
			t.Fatalf("v%s: completeness %q read as complete", version, complete)
		}
		n, known, err := declaredLength(r, d, done, off)
		if err != nil {
			return
		}
		if known && n < 0 {
			t.Fatalf("v%s: declared length %d", version, n)
		}
		if lv, lok := sfNonNegative(length); known && lok && d.uploadLength && n != lv {
			t.Fatalf("v%s: declared length %d, Upload-Length said %d", version, n, lv)
		}
		if known && done && contentLength >= 0 && n != off+contentLength {
			t.Fatalf("v%s: declared length %d, offset %d + content %d", version, n, off, contentLength)
		}
	})
}
