// The e2e module's vector checks (static/e2e/test/checks.js) run inside
// Chromium, so the browser's own WebCrypto is what is checked. Env:
// COURIER_URL (a Courier serving the page), VECTORS and HPKE_SPEC (paths).
import { readFileSync } from 'node:fs';
import { run, log, check } from '../lib.mjs';

const vectors = JSON.parse(readFileSync(process.env.VECTORS, 'utf8'));
const spec = JSON.parse(readFileSync(process.env.HPKE_SPEC, 'utf8'));

await run(async (launch) => {
  const b = await launch('vectors');
  await b.page.goto(process.env.COURIER_URL + '/');
  const results = await b.page.evaluate(async ({ vectors, spec }) => {
    const { checks } = await import('/e2e/test/checks.js');
    const assert = {
      equal(a, b, msg) { if (a !== b) throw new Error(`${msg || 'not equal'}: ${a} !== ${b}`); },
      ok(v, msg) { if (!v) throw new Error(msg || 'not ok'); },
    };
    const out = [];
    for (const [name, f] of Object.entries(checks)) {
      try {
        out.push({ name, n: await f(vectors, spec, assert) });
      } catch (e) {
        out.push({ name, error: String(e.stack || e) });
      }
    }
    return { out, ua: navigator.userAgent };
  }, { vectors, spec });
  log('in', results.ua);
  for (const r of results.out) log(r.error ? `FAIL ${r.name}: ${r.error}` : `ok ${r.name} (${r.n})`);
  check(results.out.length >= 8, `${results.out.length} checks ran`);
  check(results.out.every((r) => !r.error && r.n > 0), 'every check passed in Chromium');
});
