// Checks of the e2e module against the vectors, shared by Node's test
// runner (vectors.test.js) and Chromium (vectors.html): each takes the
// parsed vectors.json and hpke-spec.json and an assert with equal and ok,
// and returns how many vectors it checked.
import {
  Identity, ReceiverChain, SenderChain, cipherRange, decryptMedia, decryptRange, distribution, encryptMedia,
  envelopeAAD, fromHex, kem, keyDigest, openDistribution, openSenderKey, prekeySignedData, safetyNumber,
  senderKeyInfo, setupRecipient, step, toHex, verifyPrekey,
} from '../index.js';

const h = fromHex;

export const checks = {
  async 'hpke-spec: DeriveKeyPair and open, as published'(_, spec, assert) {
    assert.equal(spec.vectors.length, 2);
    for (const v of spec.vectors) {
      assert.equal(v.mode, 0);
      assert.equal(v.kdf_id, 1);
      const k = kem(v.kem_id);
      const kp = k.deriveKeyPair(h(v.ikmR));
      let skRm = h(v.skRm);
      if (v.kem_id === 0x20) {
        // SerializePrivateKey clamps X25519 keys (RFC 9180 §7.1.2); skRm is DeriveKeyPair's output before it.
        skRm[0] &= 248;
        skRm[31] = (skRm[31] & 127) | 64;
        assert.equal(toHex(k.deriveKeyPair(h(v.ikmE)).publicKey), v.enc, 'DHKEM: DeriveKeyPair(ikmE) is enc');
      }
      assert.equal(toHex(kp.privateKey), toHex(skRm), `kem ${v.kem_id}: skRm`);
      assert.equal(toHex(kp.publicKey), v.pkRm, `kem ${v.kem_id}: pkRm`);
      assert.equal(h(v.enc).length, k.encSize, `kem ${v.kem_id}: enc size`);
      const ctx = setupRecipient(v.kem_id, h(v.enc), kp.privateKey, h(v.info), v.aead_id);
      for (const e of v.encryptions ?? []) {
        assert.equal(toHex(await ctx.open(h(e.aad), h(e.ct))), e.pt, `kem ${v.kem_id}: open`);
      }
    }
    return spec.vectors.length;
  },

  async 'prekeys: derived, signed, byte for byte'(v, _, assert) {
    for (const p of v.prekeys) {
      const id = new Identity(h(p.identity_seed));
      assert.equal(toHex(id.publicKey), p.identity_public);
      const pk = id.derivePrekey(p.kem, p.kind, p.key_id, h(p.ikm));
      assert.equal(toHex(pk.privateKey), p.private_key, `${p.kem} ${p.kind}: private key`);
      assert.equal(toHex(pk.public.public_key), p.public_key, `${p.kem} ${p.kind}: public key`);
      assert.equal(toHex(prekeySignedData(pk.public)), p.signed_data);
      assert.equal(toHex(pk.public.signature), p.signature);
      assert.ok(verifyPrekey(id.publicKey, pk.public), 'signature verifies');
      const bad = { ...pk.public, key_id: p.key_id + 1 };
      assert.ok(!verifyPrekey(id.publicKey, bad), 'a changed key ID fails');
    }
    return v.prekeys.length;
  },

  async 'chain steps'(v, _, assert) {
    for (const s of v.chain_steps) {
      const { messageKey, next } = step(h(s.chain_key));
      assert.equal(toHex(messageKey.subarray(0, 32)), s.message_key);
      assert.equal(toHex(messageKey.subarray(32)), s.nonce);
      assert.equal(toHex(next), s.next_chain_key);
    }
    return v.chain_steps.length;
  },

  async 'envelopes: encrypted byte for byte, opened, replays and changes refused'(v, _, assert) {
    for (const e of v.envelopes) {
      const c = new SenderChain({ chainID: h(e.chain_id), chainKey: h(e.chain_key), signingSeed: h(e.signing_seed) });
      assert.equal(toHex(c.signingKey), e.signing_public);
      const key = { chainID: h(e.chain_id), iteration: 0, chainKey: h(e.chain_key), signingKey: c.signingKey };
      const r = new ReceiverChain(e.conversation_id, e.sender_device_id, key);
      const skipped = [];
      for (let i = 0; i < e.iteration; i++) skipped.push(await c.encrypt(e.conversation_id, e.sender_device_id, new Uint8Array(0)));
      const env = await c.encrypt(e.conversation_id, e.sender_device_id, h(e.plaintext));
      assert.equal(toHex(env), e.envelope, `envelope at iteration ${e.iteration}`);
      assert.equal(toHex(envelopeAAD(e.conversation_id, e.sender_device_id, env.subarray(0, 22))), e.aad);
      assert.equal(toHex(await r.decrypt(h(e.envelope))), e.plaintext, 'opens');
      await rejects(assert, () => r.decrypt(h(e.envelope)), 'a replay fails');
      for (const s of skipped) assert.equal((await r.decrypt(s)).length, 0, 'a skipped message opens later');
      const other = new ReceiverChain('conv-2', e.sender_device_id, key);
      await rejects(assert, () => other.decrypt(h(e.envelope)), 'another conversation fails');
      const flipped = h(e.envelope);
      flipped[30] ^= 1;
      await rejects(assert, () => new ReceiverChain(e.conversation_id, e.sender_device_id, key).decrypt(flipped), 'a changed byte fails');
    }
    return v.envelopes.length;
  },

  async 'sealed sender keys: pinned ones open; ours open as Go opens them'(v, _, assert) {
    for (const s of v.sender_keys) {
      const recipient = new Identity(h(s.recipient_identity_seed));
      const sender = new Identity(h(s.sender_identity_seed));
      const pk = recipient.derivePrekey(s.kem, s.kind, s.key_id, h(s.recipient_prekey_ikm));
      assert.equal(toHex(senderKeyInfo(s.conversation_id, s.sender_device_id, s.recipient_device_id)), s.hpke_info);
      const args = [s.conversation_id, s.sender_device_id, s.recipient_device_id, sender.publicKey, pk.privateKey];
      const k = await openSenderKey(h(s.sealed), ...args);
      const got = toHex(new SenderChain({ chainID: k.chainID, chainKey: k.chainKey, signingSeed: new Uint8Array(32) }).chainID) +
        toHex(new Uint8Array([k.iteration >>> 24, k.iteration >>> 16, k.iteration >>> 8, k.iteration])) + toHex(k.chainKey) + toHex(k.signingKey);
      assert.equal(got, s.sender_key, `${s.kem}: opened sender key`);
      const d = openDistribution(h(s.distribution));
      assert.equal(d.conversationID, s.conversation_id);
      assert.equal(toHex(d.sealed), s.sealed);
      assert.equal(toHex(distribution(s.conversation_id, h(s.sealed))), s.distribution);
      await rejects(assert, () => openSenderKey(h(s.sealed), 'conv-2', ...args.slice(1)), `${s.kem}: another conversation fails`);
      const stranger = new Identity(new Uint8Array(32).fill(7));
      await rejects(assert, () => openSenderKey(h(s.sealed), ...args.slice(0, 3), stranger.publicKey, pk.privateKey), `${s.kem}: another sender fails`);
      // Our own seal of the same key opens the same way (the Go side opens ours in the browser test).
      const { sealSenderKey } = await import('../senderkey.js');
      const ours = await sealSenderKey(sender, s.conversation_id, s.sender_device_id, s.recipient_device_id, pk.public, h(s.sender_key));
      assert.equal(ours.length, h(s.sealed).length, `${s.kem}: sealed size`);
      assert.equal(toHex(ours.subarray(0, 8)), s.sealed.slice(0, 16), `${s.kem}: header`);
      const again = await openSenderKey(ours, ...args);
      assert.equal(toHex(again.chainKey), s.sender_key.slice(40, 104));
    }
    return v.sender_keys.length;
  },

  async 'media: chunks byte for byte, ranges, digest'(v, _, assert) {
    for (const m of v.media) {
      const pt = h(m.plaintext);
      const { mediaKey, ciphertext } = await encryptMedia(pt, { key: h(m.key), chunkSize: m.chunk_size });
      assert.equal(toHex(ciphertext), m.ciphertext, `media of ${pt.length} bytes`);
      assert.equal(toHex(mediaKey.digest), m.digest);
      assert.equal(toHex(await decryptMedia(mediaKey, h(m.ciphertext))), m.plaintext);
      if (pt.length > 1) {
        const { start, end } = cipherRange(mediaKey, 1, pt.length - 1);
        const part = await decryptRange(mediaKey, 1, pt.length - 1, h(m.ciphertext).subarray(start, end));
        assert.equal(toHex(part), m.plaintext.slice(2), 'a range');
        await rejects(assert, () => decryptMedia(mediaKey, h(m.ciphertext).subarray(0, h(m.ciphertext).length - 1)), 'a cut file fails');
      }
    }
    return v.media.length;
  },

  async 'safety numbers'(v, _, assert) {
    for (const s of v.safety_numbers) {
      const n = await safetyNumber(s.user_a, s.keys_a.map(h), s.user_b, s.keys_b.map(h));
      assert.equal(n, s.safety_number);
      assert.equal(await safetyNumber(s.user_b, s.keys_b.map(h), s.user_a, s.keys_a.map(h)), n, 'the same both ways');
    }
    return v.safety_numbers.length;
  },

  async 'key digests'(v, _, assert) {
    for (const d of v.key_digests) {
      const prekeys = d.prekeys.map((i) => ({ ...v.prekeys[i], public_key: h(v.prekeys[i].public_key) }));
      assert.equal(toHex(await keyDigest(h(d.identity_public), prekeys)), d.digest);
    }
    return v.key_digests.length;
  },
};

async function rejects(assert, f, msg) {
  let threw = false;
  try {
    await f();
  } catch {
    threw = true;
  }
  assert.ok(threw, msg);
}
