package api

import (
	"io"
	"net/http"
	"time"
)

// Deadlines: how long a request body may pause and how long a response
// may wait for its client (Config.ReadTimeout, WriteTimeout). net/http's
// own ReadTimeout and WriteTimeout bound a whole request instead, which
// would cut off a large upload or download on a slow but working network;
// here each read or write moves the deadline on. A hijacked connection (a
// WebSocket) drops them: net/http clears deadlines at hijack, and the
// gateway keeps its own.

// startDeadlines sets both deadlines as a request starts. The read one
// holds even for a handler that answers without reading (401): net/http
// then discards the body, which must not wait forever either. The write
// one replaces whatever an earlier request on the connection left.
func (s *Server) startDeadlines(rc *http.ResponseController, r *http.Request) {
	rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if r.Body != nil && r.Body != http.NoBody {
		rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout))
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: s.cfg.ReadTimeout}
	}
}

// deadlineBody moves the connection's read deadline before every read.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	return b.ReadCloser.Read(p)
}
