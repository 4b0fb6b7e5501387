package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/courier-chat/courier"
)

var _ courier.KeyStore = (*KeyStore)(nil)

// KeyStore is the key directory on PostgreSQL (migrations/0008_keys.sql).
type KeyStore struct {
	db *pgxpool.Pool
}

// NewKeyStore returns a KeyStore over db.
func NewKeyStore(db *pgxpool.Pool) *KeyStore { return &KeyStore{db: db} }

// checkUpload verifies a batch before any SQL: the cap, every signature,
// and at most one signed and one last-resort key per KEM.
func checkUpload(up *courier.KeyUpload) error {
	if len(up.Prekeys) > courier.MaxPrekeysPerUpload {
		return courier.Errorf(courier.ETOOLARGE, "at most %d prekeys per upload", courier.MaxPrekeysPerUpload)
	}
	seen := map[[2]uint32]bool{}
	current := map[[2]int]bool{}
	for i := range up.Prekeys {
		p := &up.Prekeys[i]
		if err := p.Verify(up.IdentityKey); err != nil {
			return err
		}
		id := [2]uint32{uint32(p.KEM), p.KeyID}
		if seen[id] {
			return courier.Errorf(courier.EINVALID, "prekey %d of %s twice in one upload", p.KeyID, p.KEM)
		}
		seen[id] = true
		if p.Kind != courier.PrekeyOneTime {
			c := [2]int{int(p.KEM), int(p.Kind)}
			if current[c] {
				return courier.Errorf(courier.EINVALID, "at most one %s prekey of %s per upload", p.Kind, p.KEM)
			}
			current[c] = true
		}
	}
	return nil
}

func (s *KeyStore) PutKeys(ctx context.Context, d *courier.Device, up courier.KeyUpload) ([]courier.KeyCount, bool, error) {
	if err := checkUpload(&up); err != nil {
		return nil, false, err
	}
	var created bool
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		// The device's identity row, created by its first upload, is
		// locked for the rest: a device's uploads run one at a time, so the
		// stock cap holds.
		err := tx.QueryRow(ctx, `INSERT INTO device_identity_keys (device_id, user_id, identity_key)
			VALUES ($1, $2, $3) ON CONFLICT (device_id) DO NOTHING RETURNING true`,
			d.ID, d.UserID, up.IdentityKey).Scan(&created)
		if err != nil && !noRows(err) {
			return err
		}
		var stored []byte
		if err := tx.QueryRow(ctx, `SELECT identity_key FROM device_identity_keys WHERE device_id = $1 FOR UPDATE`,
			d.ID).Scan(&stored); err != nil {
			return err
		}
		if !slices.Equal(stored, up.IdentityKey) {
			return courier.Errorf(courier.ECONFLICT, "this device has another identity key; a new identity needs a new device")
		}
		return putPrekeys(ctx, tx, d.ID, &up)
	})
	if err != nil {
		return nil, false, err
	}
	counts, err := s.KeyCounts(ctx, d.ID)
	return counts, created, err
}

// putPrekeys writes the batch: signed and last-resort keys replace the
// current ones; one-time keys join the stock (a key ID already stored is
// kept as is, so a retried upload is harmless), within the cap.
func putPrekeys(ctx context.Context, tx pgx.Tx, deviceID string, up *courier.KeyUpload) error {
	kems := map[courier.KEM]bool{}
	for _, p := range up.Prekeys {
		kems[p.KEM] = true
	}
	if up.Replace {
		for kem := range kems {
			if _, err := tx.Exec(ctx, `DELETE FROM prekeys WHERE device_id = $1 AND kem = $2 AND kind = 1`, deviceID, int(kem)); err != nil {
				return err
			}
		}
	}
	for _, p := range up.Prekeys {
		if p.Kind != courier.PrekeyOneTime {
			if _, err := tx.Exec(ctx, `DELETE FROM prekeys WHERE device_id = $1 AND kem = $2 AND kind = $3`,
				deviceID, int(p.KEM), int(p.Kind)); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `INSERT INTO prekeys (device_id, kem, kind, key_id, public_key, signature)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			deviceID, int(p.KEM), int(p.Kind), int64(p.KeyID), p.PublicKey, p.Signature)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 && p.Kind != courier.PrekeyOneTime {
			return courier.Errorf(courier.ECONFLICT, "key id %d of %s is in use by another prekey", p.KeyID, p.KEM)
		}
	}
	for kem := range kems {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM prekeys WHERE device_id = $1 AND kem = $2 AND kind = 1`,
			deviceID, int(kem)).Scan(&n); err != nil {
			return err
		}
		if n > courier.MaxOneTimePrekeys {
			return courier.Errorf(courier.ETOOLARGE, "at most %d one-time prekeys of %s per device", courier.MaxOneTimePrekeys, kem)
		}
	}
	return nil
}

func (s *KeyStore) KeyCounts(ctx context.Context, deviceID string) ([]courier.KeyCount, error) {
	// kem DESC lists X-Wing (0x647a) before X25519 (0x20), as courier.KEMs.
	rows, err := s.db.Query(ctx, `SELECT kem, count(*) FILTER (WHERE kind = 1),
			max(key_id) FILTER (WHERE kind = 2), max(key_id) FILTER (WHERE kind = 3)
		FROM prekeys WHERE device_id = $1 GROUP BY kem ORDER BY kem DESC`, deviceID)
	if err != nil {
		return nil, err
	}
	counts := []courier.KeyCount{}
	for rows.Next() {
		var kem int
		var c courier.KeyCount
		var signed, last *int64
		if err := rows.Scan(&kem, &c.OneTime, &signed, &last); err != nil {
			return nil, err
		}
		c.KEM, c.SignedID, c.LastResortID = courier.KEM(kem), keyID(signed), keyID(last)
		counts = append(counts, c)
	}
	return counts, rows.Err()
}

func keyID(v *int64) *uint32 {
	if v == nil {
		return nil
	}
	id := uint32(*v)
	return &id
}

func (s *KeyStore) KeyDigest(ctx context.Context, deviceID string) ([32]byte, error) {
	var identity []byte
	err := s.db.QueryRow(ctx, `SELECT identity_key FROM device_identity_keys WHERE device_id = $1`, deviceID).Scan(&identity)
	if noRows(err) {
		return [32]byte{}, courier.Errorf(courier.ENOTFOUND, "this device has uploaded no keys")
	} else if err != nil {
		return [32]byte{}, err
	}
	rows, err := s.db.Query(ctx, `SELECT key_id, kem, kind, public_key, signature FROM prekeys
		WHERE device_id = $1 AND kind IN (2, 3)`, deviceID)
	if err != nil {
		return [32]byte{}, err
	}
	current, err := pgx.CollectRows(rows, scanPrekey)
	if err != nil {
		return [32]byte{}, err
	}
	return courier.KeyDigest(identity, current), nil
}

// scanPrekey reads key_id, kem, kind, public_key, signature.
func scanPrekey(row pgx.CollectableRow) (*courier.Prekey, error) {
	var p courier.Prekey
	var id int64
	var kem, kind int
	err := row.Scan(&id, &kem, &kind, &p.PublicKey, &p.Signature)
	p.KeyID, p.KEM, p.Kind = uint32(id), courier.KEM(kem), courier.PrekeyKind(kind)
	return &p, err
}

func (s *KeyStore) Identities(ctx context.Context, userID string) ([]courier.DeviceKeys, error) {
	rows, err := s.db.Query(ctx, `SELECT k.device_id, k.identity_key FROM device_identity_keys k
		JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL
		WHERE k.user_id = $1 ORDER BY d.created_at, d.id`, userID)
	if err != nil {
		return nil, err
	}
	devs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (courier.DeviceKeys, error) {
		d := courier.DeviceKeys{UserID: userID}
		return d, row.Scan(&d.DeviceID, &d.IdentityKey)
	})
	if err == nil && len(devs) == 0 {
		err = courier.Errorf(courier.ENOTFOUND, "no device of this user has keys")
	}
	return devs, err
}

func (s *KeyStore) Peers(ctx context.Context, userID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT $1::text UNION
		SELECT m2.user_id FROM conversation_members m1
		JOIN conversation_members m2 ON m2.conversation_id = m1.conversation_id AND m2.removed_seq IS NULL
		WHERE m1.user_id = $1 AND m1.removed_seq IS NULL`, userID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
