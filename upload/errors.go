package upload

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"

	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// Every error an upload client sees is a Courier error body,
// {"error":{"code","message"}}, with the status courier.HTTPStatus gives
// its code, whichever protocol the client speaks: tusd's own errors are
// rewritten (safeWriter), and errors from S3, Redis and the lock never
// reach a client as text (they name endpoints, buckets, keys and multipart
// upload IDs). A dependency that is down answers 503 with Retry-After.
// The draft's problem types (draft_fields.go) are the exception the draft
// asks for, with messages of their own.

// classify turns an error from dependency into what clients may see: a
// Courier or tusd error as it is, an outage as courier.Unavailable, and
// anything else as internal (logged by whoever writes the response).
func classify(dependency string, err error) error {
	var ce *courier.Error
	var te handler.Error
	switch {
	case err == nil, errors.As(err, &ce), errors.As(err, &te), errors.Is(err, context.Canceled):
		return err
	case isOutage(err):
		return courier.Unavailable(dependency, err)
	}
	return err
}

// isOutage reports whether err says a service could not be reached or
// answered that it cannot serve now, rather than refusing the request.
func isOutage(err error) bool {
	var ne net.Error
	var re *smithyhttp.ResponseError
	switch {
	case errors.As(err, &re):
		return re.HTTPStatusCode() >= 500 || re.HTTPStatusCode() == 0
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return true
	}
	// go-redis reports an exhausted pool and a closed client in text.
	msg := err.Error()
	return strings.Contains(msg, "connection pool timeout") || strings.Contains(msg, "client is closed")
}

// tusError turns an error into a tusd error carrying the Courier error body,
// for returning from hooks and stores to tusd. Errors that are neither
// Courier's nor tusd's become internal errors; their text is logged, never
// sent.
func tusError(err error) error {
	var te handler.Error
	if err == nil || errors.As(err, &te) {
		return err
	}
	e := &courier.Error{}
	if !errors.As(err, &e) {
		slog.Default().Error("upload request failed", "err", err)
		e = courier.Errorf(courier.EINTERNAL, "Internal error.")
	} else if e.Code == courier.EUNAVAILABLE || e.Code == courier.EINTERNAL {
		slog.Default().Warn("upload dependency failed", "err", err)
	}
	te = handler.NewError("ERR_"+strings.ToUpper(e.Code), e.Message, courier.HTTPStatus(e))
	te.HTTPResponse.Body = string(errorBody(e.Code, e.Message))
	te.HTTPResponse.Header = handler.HTTPHeader{"Content-Type": "application/json"}
	if d := courier.ErrorRetryAfter(e); d > 0 {
		te.HTTPResponse.Header["Retry-After"] = courier.RetryAfterHeader(d)
	}
	return te
}

// isNotFound reports whether err is tusd's "upload not found".
func isNotFound(err error) bool {
	var te handler.Error
	return errors.As(err, &te) && te.ErrorCode == handler.ErrNotFound.ErrorCode
}

func errorBody(code, message string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": message}})
	return append(b, '\n')
}

// writeError answers err as tusd would answer it, in a Courier body.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var te handler.Error
	errors.As(tusError(err), &te)
	hdr := w.Header()
	for k, v := range te.HTTPResponse.Header {
		hdr.Set(k, v)
	}
	if hdr.Get("Content-Type") != "application/json" { // one of tusd's own errors
		code, msg := tusdCode(te)
		te.HTTPResponse.Body = string(errorBody(code, msg))
		hdr.Set("Content-Type", "application/json")
	}
	hdr.Del("Content-Length")
	w.WriteHeader(te.HTTPResponse.StatusCode)
	if r.Method != http.MethodHead {
		io.WriteString(w, te.HTTPResponse.Body)
	}
}

// tusdCode gives one of tusd's own errors a Courier code. tusd's messages
// are fixed texts, except for its internal error, whose message is the
// raw error.
func tusdCode(te handler.Error) (code, message string) {
	message = te.Message
	switch s := te.HTTPResponse.StatusCode; {
	case s == http.StatusNotFound, s == http.StatusGone:
		code = courier.ENOTFOUND
	case s == http.StatusConflict, s == http.StatusLocked, s == http.StatusForbidden:
		code = courier.ECONFLICT
	case s == http.StatusRequestEntityTooLarge:
		code = courier.ETOOLARGE
	case s == http.StatusServiceUnavailable:
		code = courier.EUNAVAILABLE
	case s >= 400 && s < 500:
		code = courier.EINVALID
	default:
		code, message = courier.EINTERNAL, "Internal error."
	}
	if te.ErrorCode == "ERR_INTERNAL_SERVER_ERROR" {
		code, message = courier.EINTERNAL, "Internal error."
	} else if message == "" {
		message = http.StatusText(te.HTTPResponse.StatusCode)
	}
	return code, message
}

// safeWriter is the ResponseWriter tusd writes to. tusd writes its own
// errors as text ("ERR_UPLOAD_NOT_FOUND: upload not found", and for
// anything unexpected the raw error); safeWriter holds such a response
// and writes it with a Courier body instead (finish). Responses that
// already carry one (hooks and stores return tusError) pass through.
type safeWriter struct {
	http.ResponseWriter
	method string
	status int // a held error status
	body   []byte
}

func (w *safeWriter) WriteHeader(code int) {
	if code < 400 || w.status != 0 || w.Header().Get("Content-Type") == "application/json" {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
}

func (w *safeWriter) Write(p []byte) (int, error) {
	if w.status != 0 {
		w.body = append(w.body, p...)
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (tusd's read deadlines) reach the
// connection.
func (w *safeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish writes a held error response.
func (w *safeWriter) finish() {
	if w.status == 0 {
		return
	}
	errCode, msg, _ := strings.Cut(strings.TrimSpace(string(w.body)), ": ")
	code, message := tusdCode(handler.NewError(errCode, msg, w.status))
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Del("Content-Length")
	w.ResponseWriter.WriteHeader(w.status)
	if w.method != http.MethodHead {
		w.ResponseWriter.Write(errorBody(code, message))
	}
}
