package upload

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// bodyReader reads a request body with tusd's network timeout, counts what
// it read, stops at once when another request asks for the upload's lock,
// and stops at the room the upload has left.
//
// A body that breaks (the phone lost its network, a newer request took the
// upload over) ends, for the store, in a clean io.EOF, and the cause is
// kept in Err for the response. s3store must see EOF: it has already
// fetched and deleted the upload's .part tail and put it in front of the
// body, and on a read error it would drop the tail and everything read
// after it, moving the offset back. tusd's own body reader does the same.
type bodyReader struct {
	r        io.Reader
	left     int64 // room the upload has left
	rc       *http.ResponseController
	timeout  time.Duration
	released atomic.Bool
	read     atomic.Int64
	mu       sync.Mutex // err is read by the handler while s3store may still read
	err      error
}

var (
	errReleased   = errors.New("upload taken over by a newer request")
	errPastLength = errors.New("request content goes past the upload's length")
)

// newBodyReader reads body, which may fill at most limit bytes of the
// upload. A body with more (chunked, so no Content-Length said so up
// front) ends at limit with Err errPastLength: every draft from -05 has
// the server stop at the length and refuse the request.
func newBodyReader(body io.Reader, limit int64, w http.ResponseWriter, timeout time.Duration) *bodyReader {
	return &bodyReader{r: body, left: limit, rc: http.NewResponseController(w), timeout: timeout}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.Err() != nil {
		return 0, io.EOF
	}
	if b.released.Load() {
		b.fail(errReleased)
		return 0, io.EOF
	}
	b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	if b.left <= 0 {
		// No room left: anything more in the body is past the length.
		var one [1]byte
		n, err := io.ReadFull(b.r, one[:])
		if n > 0 {
			b.fail(errPastLength)
		} else if err != io.EOF {
			b.fail(err)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	b.left -= int64(n)
	if err != nil && err != io.EOF {
		b.fail(err)
		err = io.EOF // what was read before the break is stored
	}
	return n, err
}

func (b *bodyReader) fail(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

// Err is why the body ended early, or nil when it was read to its end.
func (b *bodyReader) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// release unblocks a Read in progress by moving the deadline to now.
func (b *bodyReader) release() {
	b.released.Store(true)
	b.rc.SetReadDeadline(time.Now())
}

// sendProgress sends a 104 with the offset reached every ProgressInterval
// while the body is read, when it moved (drafts -03 on, interop version 5
// on): often enough for a progress bar, rare enough to cost nothing next
// to the body. The returned stop waits for the
// sender to end, so the final response is written by the handler alone.
func (h *Handler) sendProgress(w http.ResponseWriter, d *draft, start int64, body *bodyReader) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(h.cfg.ProgressInterval)
		defer t.Stop()
		last := int64(-1)
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if n := body.read.Load(); n != last {
				last = n
				w.Header().Set("Upload-Offset", strconv.FormatInt(start+n, 10))
				w.WriteHeader(104)
			}
		}
	}()
	return func() { close(done); <-ended }
}
