// Courier's end-to-end encryption in the browser: the formats of
// docs/e2e.md, interoperating byte for byte with the Go client (client/e2e).
export * from './bytes.js';
export * from './hpke.js';
export * from './identity.js';
export * from './chain.js';
export * from './senderkey.js';
export * from './media.js';
export * from './safety.js';
export * from './device.js';
export * from './keystore.js';
