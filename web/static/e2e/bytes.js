// Bytes for the wire formats of docs/e2e.md: big-endian integers,
// str() fields (a 2-byte length, then the bytes) and the encodings the
// server's JSON uses (standard base64, as Go's encoding/json writes []byte).

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The UTF-8 bytes of a string; bytes pass through. */
export function bytes(s) {
  return typeof s === 'string' ? utf8.encode(s) : s;
}

/** Decodes UTF-8, throwing on invalid input. */
export function text(b) {
  return utf8Decoder.decode(b);
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function u16(n) {
  return new Uint8Array([(n >>> 8) & 0xff, n & 0xff]);
}

export function u32(n) {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

export function readU16(b, off = 0) {
  return (b[off] << 8) | b[off + 1];
}

export function readU32(b, off = 0) {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** str(s) of docs/e2e.md: a 2-byte length then the bytes, so concatenated fields cannot be read two ways. */
export function str(s) {
  const b = bytes(s);
  if (b.length > 0xffff) throw new RangeError('e2e: field longer than 65535 bytes');
  return concat(u16(b.length), b);
}

/** Reads a str() field at off: [string, offset after it], or null when b is too short. */
export function readStr(b, off = 0) {
  if (b.length < off + 2) return null;
  const n = readU16(b, off);
  if (b.length < off + 2 + n) return null;
  return [text(b.subarray(off + 2, off + 2 + n)), off + 2 + n];
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function compare(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536))); // WebCrypto's limit per call
  return out;
}

export function toHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export function fromHex(s) {
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error('e2e: bad hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toBase64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
