package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/courier-chat/courier"
)

// statusOf maps error codes to HTTP statuses: the one place this happens.
var statusOf = map[string]int{
	courier.ECONFLICT:     http.StatusConflict,
	courier.EFORBIDDEN:    http.StatusForbidden,
	courier.EINTERNAL:     http.StatusInternalServerError,
	courier.EINVALID:      http.StatusBadRequest,
	courier.ENOTFOUND:     http.StatusNotFound,
	courier.ERATELIMIT:    http.StatusTooManyRequests,
	courier.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	courier.EUNAUTHORIZED: http.StatusUnauthorized,
	courier.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// Status returns the HTTP status for err's code.
func Status(err error) int {
	if s, ok := statusOf[courier.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Error writes err as JSON with its status. Internal errors are logged with
// the request ID and shown to the client only as "Internal error.".
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code := courier.ErrorCode(err)
	if code == courier.EINTERNAL {
		courier.Logger(r.Context()).Error("request failed", "err", err)
	}
	var e *courier.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds()+0.999)))
	}
	if code == courier.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="courier"`)
	}
	var body ErrorBody
	body.Error.Code = code
	body.Error.Message = courier.ErrorMessage(err)
	JSON(w, Status(err), body)
}

// JSON writes v with the given status.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 256 << 10

// DecodeJSON reads a JSON request body into v. An empty body leaves v as is.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	err := json.NewDecoder(body).Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return courier.Errorf(courier.ETOOLARGE, "request body over %d bytes", maxJSONBody)
	default:
		return courier.Errorf(courier.EINVALID, "invalid JSON body: %v", err)
	}
}
