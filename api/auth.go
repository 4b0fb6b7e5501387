package api

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/courier-chat/courier"
)

// bearerToken returns the token from "Authorization: Bearer …", or from the
// "token" query parameter when allowQuery is set (WebSocket clients in
// browsers cannot set headers).
func bearerToken(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("token")
	}
	return ""
}

// Authenticated wraps h so it runs only for a live device token; the device
// is then in the request context (courier.DeviceFromContext).
func (s *Server) Authenticated(h http.Handler) http.Handler {
	return s.authenticated(h, false)
}

// AuthenticatedWS is Authenticated that also accepts ?token=.
func (s *Server) AuthenticatedWS(h http.Handler) http.Handler {
	return s.authenticated(h, true)
}

func (s *Server) authenticated(h http.Handler, allowQuery bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := s.accounts.Authenticate(r.Context(), bearerToken(r, allowQuery))
		if err != nil {
			Error(w, r, err)
			return
		}
		if s.preauth != nil {
			s.preauth.authenticated(r.Context())
		}
		ctx := courier.NewContextWithDevice(r.Context(), d)
		ctx = courier.NewContextWithLogger(ctx, courier.Logger(ctx).With("user_id", d.UserID, "device_id", d.ID))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isAdmin reports whether the request carries the admin secret, as the
// X-Courier-Admin-Secret header or as the password of HTTP basic auth (so a
// browser can open /admin/queues).
func (s *Server) isAdmin(r *http.Request) bool {
	if s.adminSecret == "" {
		return false
	}
	given := r.Header.Get("X-Courier-Admin-Secret")
	if given == "" {
		_, given, _ = r.BasicAuth()
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(s.adminSecret)) == 1
}

// AdminOnly wraps h so it runs only with the admin secret.
func (s *Server) AdminOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.isAdmin(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="courier admin"`)
			Error(w, r, courier.Errorf(courier.EUNAUTHORIZED, "admin secret required"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
