package courier

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes. Each edge (HTTP, WebSocket, worker) maps them once; the
// strings are what clients see in the "code" field of an error body or frame.
const (
	ECONFLICT     = "conflict"
	EFORBIDDEN    = "forbidden"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ERATELIMIT    = "rate_limited"
	ETOOLARGE     = "too_large"
	EUNAUTHORIZED = "unauthorized"
	EUNAVAILABLE  = "unavailable"
	// EBLOCKED refuses what a block forbids: a message between the two
	// users of a direct conversation when either has blocked the other,
	// or adding to a group a user who has blocked the one adding.
	EBLOCKED = "blocked"
)

// DefaultRetryAfter is what an EUNAVAILABLE error tells clients to wait when
// the code that raised it knows no better: long enough for a dependency
// restart, short enough that a phone retries while its user still waits.
const DefaultRetryAfter = 2 * time.Second

// Error is an error with a machine-readable code and a message that is safe
// to show to the client. Anything that is not an *Error is reported to
// clients as EINTERNAL with a generic message, so internal details never leak.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set with ERATELIMIT or EUNAVAILABLE, tells the client
	// how long to wait.
	RetryAfter time.Duration
	// Cause is the underlying error, for logs only: it never reaches a client.
	Cause error
	// Dependency, on an EUNAVAILABLE error from Unavailable, names what is
	// down ("database", "storage", "event bus"): logs and metrics group
	// outages by it.
	Dependency string
	// Devices, on the ECONFLICT refusing an encrypted send, lists the
	// recipient devices missing and extra; clients see it.
	Devices *DeviceMismatch
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("courier error: code=%s message=%s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("courier error: code=%s message=%s", e.Code, e.Message)
}

// Unwrap returns the cause, so errors.Is sees through an *Error.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Unavailable reports that dependency (a name clients may see, such as
// "database" or "storage") could not be reached. The cause is kept for logs.
func Unavailable(dependency string, cause error) *Error {
	return &Error{
		Code:       EUNAVAILABLE,
		Message:    dependency + " is unavailable; retry later",
		RetryAfter: DefaultRetryAfter,
		Cause:      cause,
		Dependency: dependency,
	}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorDevices returns the device mismatch err carries, or nil.
func ErrorDevices(err error) *DeviceMismatch {
	var e *Error
	if errors.As(err, &e) {
		return e.Devices
	}
	return nil
}

// ErrorRetryAfter returns how long err tells the client to wait, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// httpStatus maps error codes to HTTP statuses. Every HTTP edge (the JSON
// API, tus and the resumable-upload draft) answers through HTTPStatus.
var httpStatus = map[string]int{
	ECONFLICT:     http.StatusConflict,
	EFORBIDDEN:    http.StatusForbidden,
	EINTERNAL:     http.StatusInternalServerError,
	EINVALID:      http.StatusBadRequest,
	ENOTFOUND:     http.StatusNotFound,
	ERATELIMIT:    http.StatusTooManyRequests,
	ETOOLARGE:     http.StatusRequestEntityTooLarge,
	EUNAUTHORIZED: http.StatusUnauthorized,
	EUNAVAILABLE:  http.StatusServiceUnavailable,
	EBLOCKED:      http.StatusForbidden,
}

// HTTPStatus returns the HTTP status for err's code.
func HTTPStatus(err error) int {
	if s, ok := httpStatus[ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// RetryAfterHeader formats d as a Retry-After value in whole seconds,
// rounded up so that a client never retries early.
func RetryAfterHeader(d time.Duration) string {
	return fmt.Sprint(int64((d + time.Second - 1) / time.Second))
}
