package transcode

import (
	"os"
	"strings"
	"testing"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		writes []string
		want   string
	}{
		{[]string{"abc"}, "abc"},
		{[]string{"abc", "def"}, "cdef"},
		{[]string{"abcdefgh"}, "efgh"},
		{[]string{"ab", "cdefghij", "k"}, "hijk"},
		{nil, ""},
	}
	for _, tt := range tests {
		b := tailBuffer{max: 4}
		for _, w := range tt.writes {
			if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if b.String() != tt.want {
			t.Errorf("after %q: %q, want %q", tt.writes, b.String(), tt.want)
		}
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := limitedBuffer{max: 5}
	for _, w := range []string{"abc", "def", "gh"} {
		if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; must swallow everything", w, n, err)
		}
	}
	if b.String() != "abcde" || !b.overflow {
		t.Errorf("buffer %q overflow %v, want %q true", b.String(), b.overflow, "abcde")
	}
}

func TestScrubAndLastLine(t *testing.T) {
	r := run{paths: map[string]string{"/tmp/w/in.mp4": "input", "/tmp/w/out.jpg": "output"}}
	got := r.scrub("[mov @ 0x1] moov atom not found\nfile:/tmp/w/in.mp4: Invalid data\nwriting /tmp/w/out.jpg\n")
	if strings.Contains(got, "/tmp/w") || !strings.Contains(got, "input: Invalid data") || !strings.Contains(got, "writing output") {
		t.Errorf("scrub = %q", got)
	}
	if l := lastLine(got); l != "writing output" {
		t.Errorf("lastLine = %q", l)
	}
	if l := lastLine("one line\n\n"); l != "one line" {
		t.Errorf("lastLine = %q", l)
	}
}

func writeTestFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
