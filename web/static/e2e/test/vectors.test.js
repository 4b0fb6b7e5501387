// The formats against the vectors the Go code pins
// (client/e2e/testdata/vectors.json) and the published HPKE vectors
// (hpke-spec.json): every deterministic byte equal, every pinned sealed
// sender key opened. The same checks run in Chromium (vectors-browser.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { checks } from './checks.js';

const testdata = new URL('../../../../client/e2e/testdata/', import.meta.url);
const vectors = JSON.parse(readFileSync(new URL('vectors.json', testdata)));
const spec = JSON.parse(readFileSync(new URL('hpke-spec.json', testdata)));

for (const [name, check] of Object.entries(checks)) {
  test(name, async () => {
    const n = await check(vectors, spec, assert);
    assert.ok(n > 0, `${name}: no vector checked`);
  });
}
