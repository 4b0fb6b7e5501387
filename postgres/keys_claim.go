package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/courier-chat/courier"
)

// claimOneTime deletes and returns the lowest one-time key of a device and
// KEM. FOR UPDATE SKIP LOCKED lets concurrent claimers of one device each
// take a different row instead of queueing on the same one: no key is
// handed out twice, and none waits for another claimer.
const claimOneTime = `DELETE FROM prekeys WHERE (device_id, kem, key_id) = (
		SELECT device_id, kem, key_id FROM prekeys
		WHERE device_id = $1 AND kem = $2 AND kind = 1
		ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING key_id, kem, kind, public_key, signature`

// ClaimKeys serves the bundles of a user's recipient devices: live ones
// with an identity key and a signed prekey of kem, or of X25519 when they
// have none of kem. A device that uploaded neither is not a recipient yet.
func (s *KeyStore) ClaimKeys(ctx context.Context, userID, deviceID string, kem courier.KEM) ([]courier.DeviceKeys, []courier.ClaimedStock, error) {
	rows, err := s.db.Query(ctx, `SELECT d.id, ik.identity_key, s.key_id, s.kem, s.kind, s.public_key, s.signature
		FROM devices d JOIN device_identity_keys ik ON ik.device_id = d.id
		JOIN LATERAL (SELECT key_id, kem, kind, public_key, signature FROM prekeys p
			WHERE p.device_id = d.id AND p.kind = 2 AND p.kem IN ($2, 32)
			ORDER BY p.kem = $2 DESC LIMIT 1) s ON true
		WHERE d.user_id = $1 AND d.revoked_at IS NULL AND ($3 = '' OR d.id = $3)
		ORDER BY d.created_at, d.id`, userID, int(kem), deviceID)
	if err != nil {
		return nil, nil, err
	}
	bundles, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (courier.DeviceKeys, error) {
		b := courier.DeviceKeys{UserID: userID, SignedPrekey: &courier.Prekey{}}
		var id int64
		var k, kind int
		err := row.Scan(&b.DeviceID, &b.IdentityKey, &id, &k, &kind, &b.SignedPrekey.PublicKey, &b.SignedPrekey.Signature)
		b.SignedPrekey.KeyID, b.SignedPrekey.KEM, b.SignedPrekey.Kind = uint32(id), courier.KEM(k), courier.PrekeyKind(kind)
		return b, err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(bundles) == 0 {
		return nil, nil, courier.Errorf(courier.ENOTFOUND, "no device of this user has keys")
	}

	// One round trip for every device: claim a one-time key, read the
	// last-resort key (used when the claim found none), count what is left.
	batch := &pgx.Batch{}
	for _, b := range bundles {
		k := int(b.SignedPrekey.KEM)
		batch.Queue(claimOneTime, b.DeviceID, k)
		batch.Queue(`SELECT key_id, kem, kind, public_key, signature FROM prekeys
			WHERE device_id = $1 AND kem = $2 AND kind = 3`, b.DeviceID, k)
		batch.Queue(`SELECT count(*) FROM prekeys WHERE device_id = $1 AND kem = $2 AND kind = 1`, b.DeviceID, k)
	}
	res := s.db.SendBatch(ctx, batch)
	defer res.Close()
	stock := make([]courier.ClaimedStock, len(bundles))
	for i := range bundles {
		b := &bundles[i]
		oneTime, err := queryPrekey(res)
		if err != nil {
			return nil, nil, err
		}
		lastResort, err := queryPrekey(res)
		if err != nil {
			return nil, nil, err
		}
		st := courier.ClaimedStock{UserID: userID, DeviceID: b.DeviceID, KEM: b.SignedPrekey.KEM}
		if err := res.QueryRow().Scan(&st.OneTime); err != nil {
			return nil, nil, err
		}
		b.Prekey = oneTime
		if oneTime == nil {
			b.Prekey, st.LastResortUsed = lastResort, lastResort != nil
		}
		stock[i] = st
	}
	return bundles, stock, res.Close()
}

// queryPrekey reads the next batch result as at most one prekey.
func queryPrekey(res pgx.BatchResults) (*courier.Prekey, error) {
	rows, err := res.Query()
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, scanPrekey)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return keys[0], nil
}
