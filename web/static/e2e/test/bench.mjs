// Costs of the e2e module, each beside a baseline measured in the same
// run, so the ratio says what the module adds over the primitive it
// stands on (absolute times drift on a shared machine):
//
//	node web/static/e2e/test/bench.mjs
import { ml_kem768_x25519 as xwing } from '../../vendor/@noble/post-quantum/hybrid.js';
import { x25519 } from '../../vendor/@noble/curves/ed25519.js';
import { Identity, SenderChain, ReceiverChain, encryptMedia, openSenderKey, pad, sealSenderKey, randomBytes } from '../index.js';

async function time(n, f) {
  for (let i = 0; i < Math.min(n, 5); i++) await f(); // warm up
  const t = performance.now();
  for (let i = 0; i < n; i++) await f();
  return (performance.now() - t) / n;
}

async function gcm(data) {
  const k = await crypto.subtle.importKey('raw', randomBytes(32), 'AES-GCM', false, ['encrypt']);
  return crypto.subtle.encrypt({ name: 'AES-GCM', iv: randomBytes(12) }, k, data);
}

const sender = Identity.generate(), recipient = Identity.generate();
const rows = [];
async function row(name, n, f, baseName, base) {
  const ms = await time(n, f), b = await time(n, base);
  rows.push({ name, ms, baseName, base: b, ratio: ms / b });
}

const chainKey = SenderChain.generate().senderKey();
for (const kem of ['xwing', 'x25519']) {
  const pk = recipient.newPrekey(kem, 'one_time', 1);
  const sealed = await sealSenderKey(sender, 'conv', 'dev-a', 'dev-b', pk.public, chainKey);
  if (kem === 'xwing') {
    await row('seal a sender key (X-Wing)', 50, () => sealSenderKey(sender, 'conv', 'dev-a', 'dev-b', pk.public, chainKey),
      'X-Wing encapsulate', () => xwing.encapsulate(pk.public.public_key));
    const ct = xwing.encapsulate(pk.public.public_key).cipherText;
    await row('open a sender key (X-Wing)', 50, () => openSenderKey(sealed, 'conv', 'dev-a', 'dev-b', sender.publicKey, pk.privateKey),
      'X-Wing decapsulate', () => xwing.decapsulate(ct, pk.privateKey));
  } else {
    await row('seal a sender key (X25519)', 100, () => sealSenderKey(sender, 'conv', 'dev-a', 'dev-b', pk.public, chainKey),
      'X25519 key agreement (one)', () => x25519.getSharedSecret(x25519.utils.randomSecretKey(), pk.public.public_key));
  }
}

const text = randomBytes(1000);
const chain = SenderChain.generate();
await row('encrypt a 1000-byte message', 500, () => chain.encrypt('conv', 'dev-a', text),
  'AES-256-GCM of its padded bytes', () => gcm(pad(text)));
const c2 = SenderChain.generate();
const k = { chainID: c2.chainID, iteration: 0, chainKey: c2.chainKey, signingKey: c2.signingKey };
const r = new ReceiverChain('conv', 'dev-a', k);
const envs = [];
for (let i = 0; i < 505; i++) envs.push(await c2.encrypt('conv', 'dev-a', text));
let i = 0;
await row('decrypt a 1000-byte message', 500, () => r.decrypt(envs[i++]),
  'AES-256-GCM of its padded bytes', () => gcm(pad(text)));
const mib = randomBytes(1 << 20);
await row('encrypt 1 MiB of media (64 KiB chunks)', 20, () => encryptMedia(mib),
  'AES-256-GCM of 1 MiB at once', () => gcm(mib));

console.log(`node ${process.version}, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| operation | ms | baseline | ms | ratio |\n|---|---:|---|---:|---:|');
for (const x of rows) console.log(`| ${x.name} | ${x.ms.toFixed(3)} | ${x.baseName} | ${x.base.toFixed(3)} | ${x.ratio.toFixed(2)}x |`);
