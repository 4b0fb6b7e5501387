package courier

import (
	"context"
	"time"
)

// MailboxItem is an opaque payload addressed to one device: a sealed
// sender key, session setup, device linking. The server stores it until
// that device acknowledges it or it expires, and never reads it.
type MailboxItem struct {
	ID             int64     `json:"id"`
	UserID         string    `json:"user_id"`   // the recipient's user
	DeviceID       string    `json:"device_id"` // the recipient
	SenderID       string    `json:"sender_id"`
	SenderDeviceID string    `json:"sender_device_id"`
	Payload        []byte    `json:"payload"`
	CreatedAt      time.Time `json:"ts"`
}

// MailboxPut is one payload a device sends.
type MailboxPut struct {
	DeviceID string `json:"device_id"`
	Payload  []byte `json:"payload"`
}

// Limits of device mailboxes.
const (
	MaxMailboxPayload = 16 << 10 // bytes; a sealed X-Wing sender key is 1,292
	MaxMailboxBatch   = 100      // payloads per request
	MaxMailboxPending = 5000     // unacknowledged payloads per device
	MailboxExpiry     = 30 * 24 * time.Hour
)

// MailboxStore keeps device mailboxes.
type MailboxStore interface {
	// PutMailbox stores payloads from a device, all or none. A recipient
	// must be a live device of the sender's user or of a user sharing a
	// conversation with them (ENOTFOUND otherwise); ETOOLARGE over a
	// limit.
	PutMailbox(ctx context.Context, from *Device, items []MailboxPut) ([]*MailboxItem, error)
	// Mailbox lists a device's unexpired payloads with id > after, oldest
	// first, at most limit.
	Mailbox(ctx context.Context, deviceID string, after int64, limit int) ([]*MailboxItem, error)
	// AckMailbox deletes the device's payloads with these IDs and returns
	// how many it deleted (others' IDs and repeats delete nothing).
	AckMailbox(ctx context.Context, deviceID string, ids []int64) (int, error)
}

// ValidateMailboxPut checks a batch the same way at every edge, before
// any store is asked.
func ValidateMailboxPut(items []MailboxPut) error {
	if len(items) == 0 || len(items) > MaxMailboxBatch {
		return Errorf(EINVALID, "send 1 to %d payloads at a time", MaxMailboxBatch)
	}
	for _, it := range items {
		switch {
		case !ValidID(it.DeviceID):
			return Errorf(EINVALID, "device_id %q is not a device ID", it.DeviceID)
		case len(it.Payload) == 0:
			return Errorf(EINVALID, "payload is empty")
		case len(it.Payload) > MaxMailboxPayload:
			return Errorf(ETOOLARGE, "a payload is at most %d bytes", MaxMailboxPayload)
		}
	}
	return nil
}
