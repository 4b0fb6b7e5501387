package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// Encrypted media follow age's STREAM construction: the file is cut into
// chunks of ChunkSize plaintext bytes (the last one shorter, possibly
// empty), each sealed alone with AES-256-GCM under the file key and the
// 12-byte nonce "chunk index (11 bytes, BE) | last flag (0x01 on the last
// chunk, else 0x00)", no additional data. Chunk i is at ciphertext offset
// i*(ChunkSize+16). So any range is fetched, decrypted and verified alone;
// chunks cannot be reordered (the index), nor the file cut short (the
// flag). Digest is SHA-256 of the whole ciphertext, for a full download.

// Chunk sizes.
const (
	DefaultChunkSize = 64 << 10
	MinChunkSize     = 16 // small enough for test vectors
	MaxChunkSize     = 4 << 20
	chunkTag         = 16
)

// MediaKey is what the message carries about an encrypted file, inside
// its ciphertext; the server never sees it.
type MediaKey struct {
	Key       []byte `json:"key"`        // 32 random bytes, one file only
	ChunkSize int    `json:"chunk_size"` // plaintext bytes per chunk
	Size      int64  `json:"size"`       // plaintext bytes
	Digest    []byte `json:"digest"`     // SHA-256 of the ciphertext
}

// NewMediaKey returns a fresh key with the default chunk size.
func NewMediaKey() MediaKey {
	k := MediaKey{Key: make([]byte, 32), ChunkSize: DefaultChunkSize}
	rand.Read(k.Key)
	return k
}

func (m *MediaKey) check() error {
	if len(m.Key) != 32 || m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize || m.Size < 0 {
		return fmt.Errorf("e2e: bad media key (32-byte key, chunk size %d..%d)", MinChunkSize, MaxChunkSize)
	}
	return nil
}

// chunks is how many chunks a file of m.Size bytes has: at least one
// (an empty file is one empty, final chunk, so it still authenticates).
func (m *MediaKey) chunks() int64 {
	return max(1, (m.Size+int64(m.ChunkSize)-1)/int64(m.ChunkSize))
}

// CipherSize is the size of the encrypted file.
func (m *MediaKey) CipherSize() int64 { return m.Size + m.chunks()*chunkTag }

func chunkNonce(i int64, last bool) []byte {
	n := make([]byte, 12)
	for j := 10; j >= 0 && i > 0; j-- {
		n[j] = byte(i)
		i >>= 8
	}
	if last {
		n[11] = 1
	}
	return n
}

// EncryptMedia reads m.Size bytes of plaintext from r, writes the
// ciphertext to w and sets m.Digest.
func EncryptMedia(m *MediaKey, r io.Reader, w io.Writer) error {
	if err := m.check(); err != nil {
		return err
	}
	a, h := gcm(m.Key), sha256.New()
	buf := make([]byte, m.ChunkSize, m.ChunkSize+chunkTag)
	n := m.chunks()
	for i := int64(0); i < n; i++ {
		size := min(int64(m.ChunkSize), m.Size-i*int64(m.ChunkSize))
		if _, err := io.ReadFull(r, buf[:size]); err != nil {
			return fmt.Errorf("e2e: reading chunk %d: %w", i, err)
		}
		ct := a.Seal(buf[:0], chunkNonce(i, i == n-1), buf[:size], nil)
		h.Write(ct)
		if _, err := w.Write(ct); err != nil {
			return err
		}
	}
	m.Digest = h.Sum(nil)
	return nil
}

// CipherRange returns the ciphertext bytes [start, end) to fetch (an
// HTTP Range of bytes=start-(end-1)) to read plaintext [off, off+n).
func (m *MediaKey) CipherRange(off, n int64) (start, end int64) {
	cs := int64(m.ChunkSize)
	first, last := off/cs, (off+n-1)/cs
	if n <= 0 {
		last = first
	}
	end = min((last+1)*(cs+chunkTag), m.CipherSize())
	return first * (cs + chunkTag), end
}

// ErrMediaRange is returned for a range outside the file.
var ErrMediaRange = errors.New("e2e: range outside the file")

// DecryptRange decrypts and verifies plaintext [off, off+n) from cipher,
// the bytes CipherRange(off, n) named. Only those chunks are needed.
func (m *MediaKey) DecryptRange(off, n int64, cipher []byte) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if off < 0 || n < 0 || off+n > m.Size {
		return nil, ErrMediaRange
	} else if n == 0 {
		return []byte{}, nil
	}
	start, end := m.CipherRange(off, n)
	if int64(len(cipher)) != end-start {
		return nil, ErrDecrypt
	}
	a, cs := gcm(m.Key), int64(m.ChunkSize)
	var out []byte
	for i, p := start/(cs+chunkTag), int64(0); p < int64(len(cipher)); i, p = i+1, p+cs+chunkTag {
		ct := cipher[p:min(p+cs+chunkTag, int64(len(cipher)))]
		pt, err := a.Open(nil, chunkNonce(i, i == m.chunks()-1), ct, nil)
		if err != nil {
			return nil, ErrDecrypt
		}
		out = append(out, pt...)
	}
	skip := off - (start/(cs+chunkTag))*cs
	return out[skip : skip+n], nil
}

// DecryptMedia decrypts a whole file, checking its digest first: the
// ciphertext is the one the sender uploaded, or nothing is returned.
func DecryptMedia(m *MediaKey, cipher []byte) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	d := sha256.Sum256(cipher)
	if int64(len(cipher)) != m.CipherSize() || subtle.ConstantTimeCompare(d[:], m.Digest) != 1 {
		return nil, ErrDecrypt
	}
	return m.DecryptRange(0, m.Size, cipher)
}
