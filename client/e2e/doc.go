// Package e2e is the client side of Courier's end-to-end encryption, as
// docs/e2e.md specifies it: device identity keys (Ed25519) and signed HPKE
// prekeys (X-Wing, or DHKEM(X25519) for clients without it); per sending
// device and conversation a sender-key chain (HKDF-SHA256 ratchet,
// AES-256-GCM, messages signed with a per-chain Ed25519 key) whose state is
// sealed with HPKE to each recipient device; media encrypted in fixed-size
// AEAD chunks so any range can be fetched, decrypted and verified alone;
// and safety numbers.
//
// It uses only the standard library's primitives (crypto/hpke, crypto/hkdf,
// crypto/aes with GCM, crypto/ed25519) and no part of the client SDK, so an
// implementer can read it next to the specification. Every format is pinned
// byte for byte by testdata/vectors.json.
package e2e
