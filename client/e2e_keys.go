package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// Settings keys of this device's end-to-end state.
const (
	settingIdentity  = "e2e_identity"    // hex Ed25519 seed
	settingNextKeyID = "e2e_next_key_id" // the next prekey ID to use
	settingUploaded  = "e2e_uploaded"    // "1" once the first upload succeeded
)

// oneTimeBatch is how many X-Wing one-time prekeys a device uploads at a
// time: comfortably above courier.LowPrekeyThreshold, within one upload.
const oneTimeBatch = 40

// identity returns this device's identity key, creating it the first time.
func (c *Client) identity(ctx context.Context) (*e2e.Identity, error) {
	c.mu.Lock()
	id := c.ident
	c.mu.Unlock()
	if id != nil {
		return id, nil
	}
	v, err := c.store.Setting(ctx, settingIdentity)
	if err != nil {
		return nil, err
	}
	seed, _ := hex.DecodeString(v)
	if len(seed) == 0 {
		id = e2e.NewIdentity()
		if err := c.store.SetSetting(ctx, settingIdentity, hex.EncodeToString(id.Seed())); err != nil {
			return nil, err
		}
	} else {
		id = e2e.IdentityFromSeed(seed)
	}
	c.mu.Lock()
	c.ident = id
	c.mu.Unlock()
	return id, nil
}

// ensureKeys makes this device a recipient of encrypted conversations the
// first time it runs: its identity, an X-Wing and an X25519 signed and
// last-resort prekey, and a batch of X-Wing one-time prekeys.
func (c *Client) ensureKeys(ctx context.Context) error {
	if v, err := c.store.Setting(ctx, settingUploaded); err != nil || v == "1" {
		return err
	}
	var kinds []prekeySpec
	for _, kem := range courier.KEMs {
		kinds = append(kinds, prekeySpec{kem, courier.PrekeySigned}, prekeySpec{kem, courier.PrekeyLastResort})
	}
	for range oneTimeBatch {
		kinds = append(kinds, prekeySpec{courier.KEMXWing, courier.PrekeyOneTime})
	}
	if err := c.uploadPrekeys(ctx, kinds); err != nil {
		return err
	}
	return c.store.SetSetting(ctx, settingUploaded, "1")
}

type prekeySpec struct {
	kem  courier.KEM
	kind courier.PrekeyKind
}

// uploadPrekeys generates prekeys, keeps their private halves, and
// uploads them. A key kept but never uploaded (the upload failed) is
// harmless: nobody seals to it.
func (c *Client) uploadPrekeys(ctx context.Context, specs []prekeySpec) error {
	id, err := c.identity(ctx)
	if err != nil {
		return err
	}
	up := courier.KeyUpload{IdentityKey: id.Public()}
	err = c.store.tx(ctx, func(tx *sql.Tx) error {
		var next uint32 = 1
		var v string
		if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, settingNextKeyID).Scan(&v); err == nil {
			n, _ := strconv.ParseUint(v, 10, 32)
			next = uint32(n)
		}
		for _, s := range specs {
			p, err := id.NewPrekey(s.kem, s.kind, next)
			if err != nil {
				return err
			}
			priv, err := p.Private.Bytes()
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO e2e_prekeys(kem, key_id, kind, private) VALUES(?, ?, ?, ?)`,
				int(s.kem), next, int(s.kind), priv); err != nil {
				return err
			}
			up.Prekeys = append(up.Prekeys, p.Public)
			next++
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, settingNextKeyID, strconv.FormatUint(uint64(next), 10))
		return err
	})
	if err != nil {
		return err
	}
	return c.api.do(ctx, http.MethodPut, "/v1/keys", up, nil)
}

// replenish uploads another batch of one-time prekeys (keys.low).
func (c *Client) replenish() {
	specs := make([]prekeySpec, oneTimeBatch)
	for i := range specs {
		specs[i] = prekeySpec{courier.KEMXWing, courier.PrekeyOneTime}
	}
	if err := c.uploadPrekeys(c.ctx, specs); err != nil {
		c.warn("client: upload one-time prekeys", "err", err)
	}
}

// fetchKeys claims a bundle of each of userID's devices (only deviceID's
// when set) and checks it: every prekey signed by the device's identity,
// and that identity the one this device saw first for it. A device whose
// bundle fails is left out, so nothing is sealed to a key the server made
// up.
func (c *Client) fetchKeys(ctx context.Context, userID, deviceID string) ([]courier.DeviceKeys, error) {
	q := url.Values{}
	if deviceID != "" {
		q.Set("device_id", deviceID)
		// Read the identity at the least cost: devices of this client
		// upload no X25519 one-time keys, so nothing is used up.
		q.Set("kem", courier.KEMX25519.String())
	}
	var resp struct {
		Devices []courier.DeviceKeys `json:"devices"`
	}
	// A contact's identity is taken on trust before the first key is
	// sealed to it or opened from it, so a later change is seen as one.
	if err := c.knowContact(ctx, userID); err != nil {
		return nil, err
	}
	if err := c.api.do(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(userID)+"/keys?"+q.Encode(), nil, &resp); err != nil {
		return nil, err
	}
	var out []courier.DeviceKeys
	for _, d := range resp.Devices {
		if d.UserID != userID || !c.trustIdentity(ctx, d.UserID, d.DeviceID, d.IdentityKey) {
			continue
		}
		if d.Prekey != nil && d.Prekey.Verify(d.IdentityKey) != nil {
			d.Prekey = nil
		}
		if d.SignedPrekey != nil && d.SignedPrekey.Verify(d.IdentityKey) != nil {
			d.SignedPrekey = nil
		}
		out = append(out, d)
	}
	return out, nil
}

// trustIdentity records a device's identity key the first time and says
// whether key is that one.
func (c *Client) trustIdentity(ctx context.Context, userID, deviceID string, key []byte) bool {
	var known []byte
	err := c.store.db.QueryRowContext(ctx, `SELECT identity_key FROM e2e_devices WHERE device_id = ?`, deviceID).Scan(&known)
	if err == sql.ErrNoRows {
		_, err = c.store.exec(ctx, `INSERT INTO e2e_devices(device_id, user_id, identity_key) VALUES(?, ?, ?)
			ON CONFLICT(device_id) DO NOTHING`, deviceID, userID, key)
		return err == nil
	}
	if err == nil && !bytes.Equal(known, key) {
		// A device's identity never changes: the directory serves a key
		// that is not the device's. Refused, and the user warned.
		c.warn("client: a device's identity key changed; refusing it", "device_id", deviceID)
		c.contactTampered(ctx, userID)
	}
	return err == nil && bytes.Equal(known, key)
}

// identityOf returns a device's identity key: as seen before, or from
// the directory.
func (c *Client) identityOf(ctx context.Context, userID, deviceID string) ([]byte, error) {
	var key []byte
	err := c.store.db.QueryRowContext(ctx, `SELECT identity_key FROM e2e_devices WHERE device_id = ?`, deviceID).Scan(&key)
	if err == nil {
		return key, nil
	} else if err != sql.ErrNoRows {
		return nil, err
	}
	devs, err := c.fetchKeys(ctx, userID, deviceID)
	if err != nil {
		return nil, err
	}
	for _, d := range devs {
		if d.DeviceID == deviceID {
			return d.IdentityKey, nil
		}
	}
	return nil, courier.Errorf(courier.ENOTFOUND, "device %s has no identity key", deviceID)
}
