package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// keyEnv is a database with a key store and devices that have identities.
type keyEnv struct {
	keys     *postgres.KeyStore
	accounts *postgres.AccountService
}

func newKeyEnv(t *testing.T) *keyEnv {
	db := testenv.NewDB(t)
	return &keyEnv{keys: postgres.NewKeyStore(db.Pool), accounts: postgres.NewAccountService(db.Pool)}
}

// prekeys returns n signed prekeys of id from key ID first on.
func prekeys(t *testing.T, id *e2e.Identity, kem courier.KEM, kind courier.PrekeyKind, first uint32, n int) []courier.Prekey {
	t.Helper()
	out := make([]courier.Prekey, n)
	for i := range out {
		p, err := id.NewPrekey(kem, kind, first+uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p.Public
	}
	return out
}

// device creates a user's device and uploads an X25519 signed and
// last-resort key and n one-time keys for it.
func (e *keyEnv) device(t *testing.T, userID string, n int) (*courier.Device, *e2e.Identity) {
	t.Helper()
	ctx := context.Background()
	var d *courier.Device
	var err error
	if userID == "" {
		_, d, _, err = e.accounts.CreateAccount(ctx, "u", "phone")
	} else {
		d, _, err = e.accounts.CreateDevice(ctx, userID, "tablet")
	}
	if err != nil {
		t.Fatal(err)
	}
	id := e2e.NewIdentity()
	keys := append(prekeys(t, id, courier.KEMX25519, courier.PrekeySigned, 1, 1),
		prekeys(t, id, courier.KEMX25519, courier.PrekeyLastResort, 2, 1)...)
	for first := 0; ; first += courier.MaxPrekeysPerUpload {
		if _, _, err := e.keys.PutKeys(ctx, d, courier.KeyUpload{IdentityKey: id.Public(), Prekeys: keys}); err != nil {
			t.Fatal(err)
		}
		if first >= n {
			break
		}
		keys = prekeys(t, id, courier.KEMX25519, courier.PrekeyOneTime, uint32(100+first), min(n-first, courier.MaxPrekeysPerUpload))
	}
	return d, id
}

func TestPutKeysRefuses(t *testing.T) {
	e := newKeyEnv(t)
	ctx := context.Background()
	d, id := e.device(t, "", 0)
	other := e2e.NewIdentity()
	forged := prekeys(t, other, courier.KEMX25519, courier.PrekeyOneTime, 500, 1)
	mine := prekeys(t, id, courier.KEMX25519, courier.PrekeyOneTime, 600, 2)
	for _, tc := range []struct {
		name string
		up   courier.KeyUpload
		code string
	}{
		{"signed by another identity", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: forged}, courier.EINVALID},
		{"another identity for the device", courier.KeyUpload{IdentityKey: other.Public(), Prekeys: forged}, courier.ECONFLICT},
		{"over the batch cap", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: make([]courier.Prekey, courier.MaxPrekeysPerUpload+1)}, courier.ETOOLARGE},
		{"one key twice", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: []courier.Prekey{mine[0], mine[0]}}, courier.EINVALID},
		{"two signed keys of a KEM", courier.KeyUpload{IdentityKey: id.Public(),
			Prekeys: prekeys(t, id, courier.KEMX25519, courier.PrekeySigned, 700, 2)}, courier.EINVALID},
		{"a signed key reusing a one-time key's ID", courier.KeyUpload{IdentityKey: id.Public(),
			Prekeys: prekeys(t, id, courier.KEMX25519, courier.PrekeySigned, 2, 1)}, courier.ECONFLICT},
		{"valid", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: mine}, ""},
		{"retried", courier.KeyUpload{IdentityKey: id.Public(), Prekeys: mine}, ""},
	} {
		_, _, err := e.keys.PutKeys(ctx, d, tc.up)
		if got := courier.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %q, want %q (%v)", tc.name, got, tc.code, err)
		}
	}
	counts, err := e.keys.KeyCounts(ctx, d.ID)
	if err != nil || len(counts) != 1 || counts[0].OneTime != 2 || *counts[0].SignedID != 1 || *counts[0].LastResortID != 2 {
		t.Fatalf("counts %+v, %v; want 2 one-time, signed 1, last resort 2", counts, err)
	}
	// Replace drops the stock before adding, to repair drift.
	c, _, err := e.keys.PutKeys(ctx, d, courier.KeyUpload{IdentityKey: id.Public(), Replace: true,
		Prekeys: prekeys(t, id, courier.KEMX25519, courier.PrekeyOneTime, 800, 5)})
	if err != nil || c[0].OneTime != 5 {
		t.Errorf("after replace: %+v, %v; want 5", c, err)
	}
}

func TestPutKeysStockCap(t *testing.T) {
	e := newKeyEnv(t)
	d, id := e.device(t, "", courier.MaxOneTimePrekeys)
	_, _, err := e.keys.PutKeys(context.Background(), d, courier.KeyUpload{IdentityKey: id.Public(),
		Prekeys: prekeys(t, id, courier.KEMX25519, courier.PrekeyOneTime, 5000, 1)})
	wantCode(t, err, courier.ETOOLARGE)
}

// Many claimers of one device's stock: every one-time key is handed out
// exactly once, then everyone gets the last-resort key, marked as such.
func TestClaimKeysConcurrent(t *testing.T) {
	e := newKeyEnv(t)
	const stock, claimers, each = 150, 16, 12 // 192 claims for 150 keys
	d, _ := e.device(t, "", stock)
	var mu sync.Mutex
	got := map[uint32]int{}
	lastResort := 0
	var wg sync.WaitGroup
	for range claimers {
		wg.Go(func() {
			for range each {
				b, st, err := e.keys.ClaimKeys(context.Background(), d.UserID, "", courier.KEMX25519)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if b[0].Prekey.Kind == courier.PrekeyLastResort {
					lastResort++
					if !st[0].LastResortUsed {
						t.Error("last-resort key handed out without LastResortUsed")
					}
				} else {
					got[b[0].Prekey.KeyID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, n := range got {
		if n != 1 {
			t.Errorf("one-time key %d handed out %d times", id, n)
		}
	}
	if len(got) != stock || lastResort != claimers*each-stock {
		t.Errorf("%d one-time keys and %d last-resort answers, want %d and %d", len(got), lastResort, stock, claimers*each-stock)
	}
}

func TestClaimKeysDevices(t *testing.T) {
	e := newKeyEnv(t)
	ctx := context.Background()
	phone, phoneID := e.device(t, "", 3)
	tablet, _ := e.device(t, phone.UserID, 0)
	bare, _, _ := e.accounts.CreateDevice(ctx, phone.UserID, "no keys yet")
	// The phone also has X-Wing keys: an X-Wing request gets those from
	// it, and X25519 from the tablet, which has none.
	if _, _, err := e.keys.PutKeys(ctx, phone, courier.KeyUpload{IdentityKey: phoneID.Public(),
		Prekeys: prekeys(t, phoneID, courier.KEMXWing, courier.PrekeySigned, 50, 1)}); err != nil {
		t.Fatal(err)
	}
	b, _, err := e.keys.ClaimKeys(ctx, phone.UserID, "", courier.KEMXWing)
	if err != nil || len(b) != 2 {
		t.Fatalf("%d bundles, %v; want phone and tablet (not the device without keys %s)", len(b), err, bare.ID)
	}
	if b[0].DeviceID != phone.ID || b[0].SignedPrekey.KEM != courier.KEMXWing || b[0].Prekey != nil {
		t.Errorf("phone: %+v; want its X-Wing signed key and no X-Wing one-time key", b[0])
	}
	if b[1].DeviceID != tablet.ID || b[1].SignedPrekey.KEM != courier.KEMX25519 || b[1].Prekey.Kind != courier.PrekeyLastResort {
		t.Errorf("tablet: %+v; want X25519 signed and last-resort keys", b[1])
	}
	for _, p := range []*courier.Prekey{b[0].SignedPrekey, b[1].SignedPrekey} {
		if err := p.Verify(map[bool][]byte{true: b[0].IdentityKey, false: b[1].IdentityKey}[p == b[0].SignedPrekey]); err != nil {
			t.Errorf("served key does not verify: %v", err)
		}
	}
	// A revoked device's keys are never served again.
	if err := e.accounts.RevokeDevice(ctx, phone.UserID, tablet.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.keys.ClaimKeys(ctx, phone.UserID, tablet.ID, courier.KEMX25519)
	wantCode(t, err, courier.ENOTFOUND)
}

func TestKeyDigest(t *testing.T) {
	e := newKeyEnv(t)
	d, id := e.device(t, "", 0)
	got, err := e.keys.KeyDigest(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := e.keys.ClaimKeys(context.Background(), d.UserID, d.ID, courier.KEMX25519)
	want := courier.KeyDigest(id.Public(), []*courier.Prekey{b[0].SignedPrekey, b[0].Prekey})
	if got != want {
		t.Errorf("directory digest %x, device's %x", got, want)
	}
}
