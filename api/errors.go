package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/courier-chat/courier"
)

// Status returns the HTTP status for err's code (courier.HTTPStatus).
func Status(err error) int { return courier.HTTPStatus(err) }

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// The recipient devices of a refused encrypted send.
		*courier.DeviceMismatch
	} `json:"error"`
}

// Error writes err as JSON with its status. Internal errors are logged with
// the request ID and shown to the client only as "Internal error."; outages
// are logged once per interval per dependency (courier.LogFailure).
func Error(w http.ResponseWriter, r *http.Request, err error) {
	code := courier.ErrorCode(err)
	courier.LogFailure(courier.Logger(r.Context()), "request failed", err)
	if d := courier.ErrorRetryAfter(err); d > 0 {
		w.Header().Set("Retry-After", courier.RetryAfterHeader(d))
	}
	if code == courier.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="courier"`)
	}
	var body ErrorBody
	body.Error.Code = code
	body.Error.Message = courier.ErrorMessage(err)
	body.Error.DeviceMismatch = courier.ErrorDevices(err)
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
