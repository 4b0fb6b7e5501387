package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// box builds an atom header of the given size and type followed by body
// bytes (which may be fewer than size says, to make truncated files).
func box(size uint32, typ string, body int) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	return append(append(b, typ...), make([]byte, body)...)
}

// box64 builds an atom with a 64-bit size.
func box64(size uint64, typ string, body int) []byte {
	b := append(binary.BigEndian.AppendUint32(nil, 1), typ...)
	return append(binary.BigEndian.AppendUint64(b, size), make([]byte, body)...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReadAtoms(t *testing.T) {
	tests := []struct {
		name  string
		file  []byte
		types string // concatenated
		fast  bool
		err   error
	}{
		{"faststart", cat(box(16, "ftyp", 8), box(12, "moov", 4), box(9, "mdat", 1)), "ftypmoovmdat", true, nil},
		{"moov last", cat(box(16, "ftyp", 8), box(9, "mdat", 1), box(12, "moov", 4)), "ftypmdatmoov", false, nil},
		{"free before", cat(box(8, "ftyp", 0), box(8, "free", 0), box(8, "wide", 0), box(8, "moov", 0)), "ftypfreewidemoov", true, nil},
		{"64-bit mdat", cat(box(8, "ftyp", 0), box64(20, "mdat", 4), box(8, "moov", 0)), "ftypmdatmoov", false, nil},
		{"size 0 to end", cat(box(8, "ftyp", 0), box(0, "mdat", 100)), "ftypmdat", false, nil},
		{"truncated mdat", cat(box(8, "ftyp", 0), box(1000, "mdat", 10)), "ftypmdat", false, nil},
		{"no moov", cat(box(8, "ftyp", 0)), "ftyp", false, nil},
		{"size below 8", cat(box(8, "ftyp", 0), box(7, "moov", 0)), "ftyp", false, errBadAtom},
		{"64-bit below 16", cat(box(8, "ftyp", 0), box64(15, "mdat", 0)), "ftyp", false, errBadAtom},
		{"64-bit cut", cat(box(8, "ftyp", 0), box(1, "mdat", 0)), "ftyp", false, errBadAtom},
		{"64-bit huge", cat(box64(1<<63, "mdat", 0)), "", false, errBadAtom},
		{"short tail ignored", cat(box(8, "moov", 0), []byte{1, 2, 3}), "moov", true, nil},
		{"empty", nil, "", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			atoms, err := readAtoms(bytes.NewReader(tt.file), int64(len(tt.file)))
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var types string
			for _, a := range atoms {
				types += a.Type
			}
			if types != tt.types {
				t.Errorf("atoms %q, want %q", types, tt.types)
			}
			if fast := moovFirst(atoms); fast != tt.fast {
				t.Errorf("moovFirst = %v, want %v", fast, tt.fast)
			}
		})
	}
}

// Real files as ffmpeg writes them, kept small in testdata.
func TestFileFastStart(t *testing.T) {
	for name, want := range map[string]bool{"testdata/tiny-faststart.mp4": true, "testdata/tiny-moovlast.mp4": false} {
		if got, err := fileFastStart(name); err != nil || got != want {
			t.Errorf("fileFastStart(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
}

// A file of endless empty-bodied atoms is walked only so far.
func TestReadAtomsBounded(t *testing.T) {
	file := bytes.Repeat(box(8, "free", 0), maxAtoms*3)
	atoms, err := readAtoms(bytes.NewReader(file), int64(len(file)))
	if err != nil || len(atoms) != maxAtoms {
		t.Fatalf("got %d atoms, %v; want %d", len(atoms), err, maxAtoms)
	}
}

// FuzzReadAtoms feeds arbitrary files to the atom walker: it must not
// panic, loop or claim atoms outside the file.
func FuzzReadAtoms(f *testing.F) {
	f.Add(cat(box(16, "ftyp", 8), box(12, "moov", 4), box(9, "mdat", 1)))
	f.Add(cat(box(8, "ftyp", 0), box64(20, "mdat", 4), box(8, "moov", 0)))
	f.Add(cat(box(8, "ftyp", 0), box(0, "mdat", 100)))
	f.Add(cat(box(8, "ftyp", 0), box(1000, "mdat", 10)))
	f.Add(box64(1<<63, "mdat", 0))
	for _, name := range []string{"testdata/tiny-faststart.mp4", "testdata/tiny-moovlast.mp4"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		size := int64(len(file))
		atoms, _ := readAtoms(bytes.NewReader(file), size)
		if len(atoms) > maxAtoms {
			t.Fatalf("%d atoms, more than %d", len(atoms), maxAtoms)
		}
		next := int64(0)
		for i, a := range atoms {
			if a.Offset != next || a.Size < 8 || len(a.Type) != 4 {
				t.Fatalf("atom %d %+v does not follow at %d", i, a, next)
			}
			// Only the last atom may reach past the end (a truncated file).
			if a.Offset+8 > size || (i < len(atoms)-1 && a.Size > size-a.Offset) {
				t.Fatalf("atom %d %+v outside a %d-byte file", i, a, size)
			}
			next = a.Offset + a.Size
		}
		moovFirst(atoms)
	})
}
