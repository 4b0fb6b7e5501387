package transcode

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
)

// atom is one top-level box of an ISO base media file (MP4, MOV, M4A).
type atom struct {
	Type   string // four characters: "ftyp", "moov", "mdat", ...
	Offset int64  // where its header starts
	Size   int64  // header and body
}

// maxAtoms bounds the walk: real files have a handful of top-level atoms,
// a hostile one must not make us read millions of headers.
const maxAtoms = 1024

var errBadAtom = errors.New("malformed MP4 atom header")

// readAtoms lists the top-level atoms of an ISO file of the given size. It
// reads only headers, never bodies. A header that cannot be right (a size
// below 8, a 64-bit size below 16) ends the walk with errBadAtom; an atom
// reaching past the end (a truncated upload) is listed and ends the walk.
func readAtoms(r io.ReaderAt, size int64) ([]atom, error) {
	var atoms []atom
	var hdr [16]byte
	for off := int64(0); off <= size-8 && len(atoms) < maxAtoms; {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return atoms, err
		}
		a := atom{Type: string(hdr[4:8]), Offset: off, Size: int64(binary.BigEndian.Uint32(hdr[:4]))}
		switch a.Size {
		case 0: // the last atom, running to the end of the file
			a.Size = size - off
		case 1: // a 64-bit size follows the type
			if off > size-16 {
				return atoms, errBadAtom
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return atoms, err
			}
			large := binary.BigEndian.Uint64(hdr[8:16])
			if large < 16 || large > math.MaxInt64 {
				return atoms, errBadAtom
			}
			a.Size = int64(large)
		default:
			if a.Size < 8 {
				return atoms, errBadAtom
			}
		}
		atoms = append(atoms, a)
		if a.Size > size-off {
			break // truncated: nothing after it can be found
		}
		off += a.Size
	}
	return atoms, nil
}

// moovFirst reports whether the index (moov) comes before the media data
// (mdat): what -movflags +faststart arranges. A file with no mdat before its
// moov counts as fast; one whose headers break before either is not.
func moovFirst(atoms []atom) bool {
	for _, a := range atoms {
		switch a.Type {
		case "moov":
			return true
		case "mdat":
			return false
		}
	}
	return false
}

// fileFastStart reads the top-level atoms of the file at path. A malformed
// header is no error here: ffprobe already accepted the file, so it is
// simply not known to be fast, and MP4 rewrites it.
func fileFastStart(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	atoms, err := readAtoms(f, fi.Size())
	if err != nil && !errors.Is(err, errBadAtom) && !errors.Is(err, io.EOF) {
		return false, err
	}
	return moovFirst(atoms), nil
}
