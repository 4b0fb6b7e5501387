// Node resolves the vendored packages' bare imports ("@noble/hashes/sha2.js")
// through the same import map the page uses (vendor/importmap.json):
//
//	node --import ./web/static/e2e/test/imports.mjs --test web/static/e2e/test/
//
// On the main thread this file registers itself as a module hook; on the
// hooks thread it is the hook.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { readFileSync } from 'node:fs';

const vendor = new URL('../../vendor/', import.meta.url);
const { imports } = JSON.parse(readFileSync(new URL('importmap.json', vendor)));

if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, next) {
  for (const [prefix, target] of Object.entries(imports)) {
    if (specifier.startsWith(prefix)) {
      const rel = target.replace(/^\/vendor\//, '') + specifier.slice(prefix.length);
      return { url: new URL(rel, vendor).href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}
