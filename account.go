package courier

import (
	"context"
	"time"
)

// User is a person with one or more devices.
type User struct {
	ID        string    `json:"user_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Device is one app install of a user. It authenticates with a bearer token
// of 256 random bits that the server keeps only as a SHA-256 hash.
type Device struct {
	ID         string     `json:"device_id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
}

// AccountService manages users, devices and their tokens.
type AccountService interface {
	// CreateAccount creates a user with a first device and returns the
	// device's token. The token is shown once and never stored in clear.
	CreateAccount(ctx context.Context, name, deviceName string) (*User, *Device, string, error)

	// CreateDevice adds a device to an existing user.
	CreateDevice(ctx context.Context, userID, name string) (*Device, string, error)

	// Devices lists the user's devices that are not revoked.
	Devices(ctx context.Context, userID string) ([]*Device, error)

	// RevokeDevice revokes one of the user's devices; its token stops working
	// at once. ENOTFOUND when the device is not the user's.
	RevokeDevice(ctx context.Context, userID, deviceID string) error

	// Authenticate returns the live device holding token, or EUNAUTHORIZED.
	Authenticate(ctx context.Context, token string) (*Device, error)
}

type deviceContextKey struct{}

// NewContextWithDevice returns ctx carrying the authenticated device.
func NewContextWithDevice(ctx context.Context, d *Device) context.Context {
	return context.WithValue(ctx, deviceContextKey{}, d)
}

// DeviceFromContext returns the authenticated device, or nil.
func DeviceFromContext(ctx context.Context) *Device {
	d, _ := ctx.Value(deviceContextKey{}).(*Device)
	return d
}
