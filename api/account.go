package api

import (
	"encoding/json"
	"net/http"

	"github.com/courier-chat/courier"
)

func (s *Server) registerAccountRoutes() {
	s.mux.HandleFunc("POST /v1/accounts", s.handleCreateAccount)
	s.mux.Handle("POST /v1/devices", s.Authenticated(http.HandlerFunc(s.handleCreateDevice)))
	s.mux.Handle("GET /v1/devices", s.Authenticated(http.HandlerFunc(s.handleListDevices)))
	s.mux.Handle("DELETE /v1/devices/{id}", s.Authenticated(http.HandlerFunc(s.handleRevokeDevice)))
}

type createAccountRequest struct {
	Name       string `json:"name"`
	DeviceName string `json:"device_name"`
}

// AccountResponse is what account and device creation return. The token is
// shown only here.
type AccountResponse struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
	Token    string `json:"token"`
}

// handleCreateAccount is open in dev (OpenSignup) and otherwise needs the
// admin secret: a deployment creates accounts from its own sign-up system.
func (s *Server) handleCreateAccount(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.OpenSignup && !s.isAdmin(r) {
		Error(w, r, courier.Errorf(courier.EUNAUTHORIZED, "account creation needs the admin secret"))
		return
	}
	var req createAccountRequest
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	u, d, token, err := s.accounts.CreateAccount(r.Context(), req.Name, req.DeviceName)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusCreated, AccountResponse{UserID: u.ID, DeviceID: d.ID, Token: token})
}

func (s *Server) handleCreateDevice(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"name"`
	}
	if err := DecodeJSON(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	me := courier.DeviceFromContext(r.Context())
	d, token, err := s.accounts.CreateDevice(r.Context(), me.UserID, req.Name)
	if err != nil {
		Error(w, r, err)
		return
	}
	// Nodes forget the user's device list (the push check must wake the
	// new device), and members learn of it (safety numbers).
	s.publishDevicesChanged(r, me.UserID)
	JSON(w, http.StatusCreated, AccountResponse{UserID: me.UserID, DeviceID: d.ID, Token: token})
}

func (s *Server) handleListDevices(w http.ResponseWriter, r *http.Request) {
	me := courier.DeviceFromContext(r.Context())
	devices, err := s.accounts.Devices(r.Context(), me.UserID)
	if err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, map[string]any{"devices": devices})
}

func (s *Server) handleRevokeDevice(w http.ResponseWriter, r *http.Request) {
	me := courier.DeviceFromContext(r.Context())
	id := r.PathValue("id")
	if err := s.accounts.RevokeDevice(r.Context(), me.UserID, id); err != nil {
		Error(w, r, err)
		return
	}
	if s.events != nil {
		// Open sockets of the device close (on whichever node holds them).
		data, _ := json.Marshal(map[string]string{"device_id": id})
		ev := courier.Event{Type: courier.EventDeviceRevoked, Data: data}
		if err := s.events.Publish(r.Context(), []string{me.UserID}, ev); err != nil {
			courier.Logger(r.Context()).Error("device revoked, but its sockets were not told", "device_id", id, "err", err)
		}
	}
	// Senders stop sealing to the device, and start new chains without it.
	s.publishDevicesChanged(r, me.UserID)
	w.WriteHeader(http.StatusNoContent)
}
