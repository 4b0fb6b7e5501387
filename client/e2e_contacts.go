package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"net/http"
	"net/url"
	"slices"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// Safety numbers and the warning when a contact's identity changes
// (docs/e2e.md, "Safety numbers"). A contact's identity is the set of
// identity keys of their devices. The first set this device sees is taken
// on trust; when the directory later serves another (a device added,
// reset or revoked, or a key a malicious server made up), the contact is
// marked changed and an IdentityChangedEvent tells the UI, which warns
// until the user compares safety numbers and calls Verify.

// e2eContactSchema is the store's fourth migration: per contact, the
// identity keys accepted (each 32 bytes, sorted, concatenated), whether
// the user verified them, and whether the directory serves others since.
const e2eContactSchema = `
	CREATE TABLE e2e_contacts (
		user_id  TEXT PRIMARY KEY,
		keys     BLOB NOT NULL,
		verified INTEGER NOT NULL DEFAULT 0,
		changed  INTEGER NOT NULL DEFAULT 0
	);`

// identities fetches the identity keys of a user's recipient devices
// (GET /v1/users/{id}/identities: a lookup that claims no prekey). A user
// without any has the empty set.
func (c *Client) identities(ctx context.Context, userID string) ([][]byte, error) {
	var resp struct {
		Devices []courier.DeviceKeys `json:"devices"`
	}
	err := c.api.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(userID)+"/identities", nil, &resp)
	if courier.ErrorCode(err) == courier.ENOTFOUND {
		return [][]byte{}, nil
	} else if err != nil {
		return nil, err
	}
	keys := [][]byte{}
	for _, d := range resp.Devices {
		if d.UserID == userID && len(d.IdentityKey) == ed25519.PublicKeySize {
			keys = append(keys, d.IdentityKey)
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	return keys, nil
}

// checkContact compares a contact's identity keys in the directory with
// those accepted: the first set seen is accepted (trust on first use);
// a different one marks the contact changed and tells the UI once.
func (c *Client) checkContact(ctx context.Context, userID string) error {
	if userID == c.acct.UserID {
		return nil
	}
	current, err := c.identities(ctx, userID)
	if err != nil {
		return err
	}
	var changedNow bool
	err = c.store.tx(ctx, func(tx *sql.Tx) error {
		ct, wasChanged, err := loadContact(ctx, tx, userID)
		if err != nil {
			return err
		}
		changed := ct.Check(current) == e2e.TrustChanged
		changedNow = changed && !wasChanged
		return saveContact(ctx, tx, ct, changed)
	})
	if err == nil && changedNow {
		c.events.emit(IdentityChangedEvent{UserID: userID})
	}
	return err
}

// contactChanged checks a contact in the background (devices.changed).
func (c *Client) contactChanged(userID string) {
	c.mu.Lock()
	closing := c.closing
	if !closing {
		c.bg.Add(1)
	}
	c.mu.Unlock()
	if closing {
		return
	}
	go func() {
		defer c.bg.Done()
		if err := c.checkContact(c.ctx, userID); err != nil {
			c.warn("client: check a contact's identity", "user_id", userID, "err", err)
		}
	}()
}

// knowContact takes a contact's keys on first use, before anything is
// sealed to them or opened from them; a known contact costs nothing.
func (c *Client) knowContact(ctx context.Context, userID string) error {
	var n int
	if err := c.store.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM e2e_contacts WHERE user_id = ?`, userID).Scan(&n); err != nil || n > 0 {
		return err
	}
	return c.checkContact(ctx, userID)
}

// contactTampered marks a contact changed whatever their key set: the
// directory served another identity for a device already known.
func (c *Client) contactTampered(ctx context.Context, userID string) {
	res, err := c.store.exec(ctx, `UPDATE e2e_contacts SET changed = 1 WHERE user_id = ? AND changed = 0`, userID)
	if err != nil {
		c.warn("client: mark a contact changed", "user_id", userID, "err", err)
	} else if n, _ := res.RowsAffected(); n > 0 {
		c.events.emit(IdentityChangedEvent{UserID: userID})
	}
}

// ContactTrust says what to show of a contact's identity: unverified (as
// first seen, or accepted), verified (safety numbers compared), or
// changed since (warn).
func (c *Client) ContactTrust(ctx context.Context, userID string) (e2e.Trust, error) {
	var verified, changed bool
	err := c.store.db.QueryRowContext(ctx, `SELECT verified, changed FROM e2e_contacts WHERE user_id = ?`, userID).Scan(&verified, &changed)
	switch {
	case err == sql.ErrNoRows:
		return e2e.TrustUnverified, nil
	case err != nil:
		return 0, err
	case changed:
		return e2e.TrustChanged, nil
	case verified:
		return e2e.TrustVerified, nil
	}
	return e2e.TrustUnverified, nil
}

// SafetyNumber returns the 60 digits the user compares with the contact,
// over both users' identity keys as the directory serves them now.
func (c *Client) SafetyNumber(ctx context.Context, userID string) (string, error) {
	n, _, err := c.safetyNumber(ctx, userID)
	return n, err
}

func (c *Client) safetyNumber(ctx context.Context, userID string) (string, [][]byte, error) {
	mine, err := c.identities(ctx, c.acct.UserID)
	if err != nil {
		return "", nil, err
	}
	theirs, err := c.identities(ctx, userID)
	if err != nil {
		return "", nil, err
	}
	return e2e.SafetyNumber(c.acct.UserID, mine, userID, theirs), theirs, nil
}

// Verify records that the user compared safetyNumber with the contact's:
// the contact's current keys become the accepted, verified ones and the
// warning ends. When the number is no longer the current one (a key
// changed since it was shown) nothing is recorded: ECONFLICT, show it
// again.
func (c *Client) Verify(ctx context.Context, userID, safetyNumber string) error {
	n, theirs, err := c.safetyNumber(ctx, userID)
	if err != nil {
		return err
	} else if n != safetyNumber {
		return courier.Errorf(courier.ECONFLICT, "the safety number changed; compare the current one")
	}
	return c.store.tx(ctx, func(tx *sql.Tx) error {
		ct := &e2e.Contact{UserID: userID}
		ct.Accept(theirs, true)
		return saveContact(ctx, tx, ct, false)
	})
}

func loadContact(ctx context.Context, tx *sql.Tx, userID string) (ct *e2e.Contact, changed bool, err error) {
	ct = &e2e.Contact{UserID: userID}
	var keys []byte
	err = tx.QueryRowContext(ctx, `SELECT keys, verified, changed FROM e2e_contacts WHERE user_id = ?`, userID).
		Scan(&keys, &ct.Verified, &changed)
	if err == sql.ErrNoRows {
		return ct, false, nil // Keys nil: the first Check takes what it is given
	} else if err != nil {
		return nil, false, err
	}
	if len(keys) == 0 {
		return ct, changed, nil // none seen yet: the first keys are first use
	}
	ct.Keys = [][]byte{}
	for k := range slices.Chunk(keys, ed25519.PublicKeySize) {
		ct.Keys = append(ct.Keys, k)
	}
	return ct, changed, nil
}

func saveContact(ctx context.Context, tx *sql.Tx, ct *e2e.Contact, changed bool) error {
	keys := slices.SortedFunc(slices.Values(ct.Keys), bytes.Compare)
	_, err := tx.ExecContext(ctx, `INSERT INTO e2e_contacts(user_id, keys, verified, changed) VALUES(?, ?, ?, ?)
		ON CONFLICT(user_id) DO UPDATE SET keys = excluded.keys, verified = excluded.verified, changed = excluded.changed`,
		ct.UserID, bytes.Join(keys, nil), ct.Verified, changed)
	return err
}
