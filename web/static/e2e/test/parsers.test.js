// The parsers of what the server relays (envelopes, mailbox payloads,
// sealed sender keys, message contents) against random and mutated input,
// as go test -fuzz does for the Go ones: each must refuse with FormatError
// or DecryptError (what callers handle), never another exception, and
// never accept a changed byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  DecryptError, FormatError, Identity, ReceiverChain, SenderChain, fromHex, openDistribution, openSenderKey, parseEnvelope,
} from '../index.js';

const vectors = JSON.parse(readFileSync(new URL('../../../../client/e2e/testdata/vectors.json', import.meta.url)));

// A small deterministic generator (xorshift32), so a failure repeats.
function rng(seed) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function* inputs(seeds, n, seed = 1) {
  const r = rng(seed);
  for (let i = 0; i < n; i++) {
    const base = seeds[Math.floor(r() * seeds.length)];
    const b = Uint8Array.from(base);
    switch (Math.floor(r() * 4)) {
      case 0: // flip a byte
        if (b.length) b[Math.floor(r() * b.length)] ^= 1 + Math.floor(r() * 255);
        yield b;
        break;
      case 1: // cut
        yield b.slice(0, Math.floor(r() * b.length));
        break;
      case 2: // random bytes behind a valid header
        yield Uint8Array.from({ length: Math.floor(r() * 300) }, (_, j) => (j < 2 ? base[j] : Math.floor(r() * 256)));
        break;
      default: // random bytes
        yield Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
    }
  }
}

async function refuses(f, what) {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof FormatError || e instanceof DecryptError, `${what}: threw ${e?.constructor?.name}: ${e?.message}`);
    return true;
  }
  return false;
}

test('envelopes: a changed envelope never opens', async () => {
  const e = vectors.envelopes[0];
  const key = { chainID: fromHex(e.chain_id), iteration: 0, chainKey: fromHex(e.chain_key), signingKey: fromHex(e.signing_public) };
  const good = fromHex(e.envelope);
  for (const b of inputs([good], 1500)) {
    const r = new ReceiverChain(e.conversation_id, e.sender_device_id, key);
    const same = b.length === good.length && b.every((x, i) => x === good[i]);
    const refused = await refuses(() => r.decrypt(b), 'decrypt');
    assert.ok(refused !== same, 'a changed envelope opened, or the good one did not');
    await refuses(() => parseEnvelope(b), 'parseEnvelope');
  }
});

test('distributions and sealed sender keys: changed ones never open', async () => {
  for (const s of vectors.sender_keys) {
    const pk = new Identity(fromHex(s.recipient_identity_seed)).derivePrekey(s.kem, s.kind, s.key_id, fromHex(s.recipient_prekey_ikm));
    const sender = new Identity(fromHex(s.sender_identity_seed)).publicKey;
    const good = fromHex(s.distribution);
    for (const b of inputs([good], 300, 7)) {
      let d;
      if (await refuses(() => { d = openDistribution(b); }, 'openDistribution')) continue;
      const opened = !(await refuses(() => openSenderKey(d.sealed, d.conversationID, s.sender_device_id, s.recipient_device_id, sender, pk.privateKey), 'openSenderKey'));
      const same = b.length === good.length && b.every((x, i) => x === good[i]);
      assert.equal(opened, same, 'a changed distribution opened, or the good one did not');
    }
  }
});

test('message contents: what a device sent that is not our JSON is refused as failed, not thrown', async () => {
  const { E2EDevice, MemoryStore, content } = await import('../index.js');
  const c = SenderChain.generate();
  const store = new MemoryStore();
  const d = new E2EDevice({ userID: 'u', deviceID: 'me', request: async () => ({}), store });
  const key = { chainID: c.chainID, iteration: 0, chainKey: c.chainKey, signingKey: c.signingKey };
  const name = (chainID) => `rchain:conv:dev:${Buffer.from(chainID).toString('hex')}`;
  await store.put(name(c.chainID), new ReceiverChain('conv', 'dev', key).state());
  const bodies = [new Uint8Array([0xff, 0xfe]), new TextEncoder().encode('{"text": 5}'), new TextEncoder().encode('[]'),
    new TextEncoder().encode(JSON.stringify(content('fine')))];
  const got = [];
  for (const b of bodies) got.push(await d.decrypt({ conversation_id: 'conv', sender_device_id: 'dev', body: await c.encrypt('conv', 'dev', b) }));
  assert.deepEqual(got.map((r) => (r.failed ? 'failed' : r.text)), ['failed', 'failed', 'failed', 'fine']);
});
