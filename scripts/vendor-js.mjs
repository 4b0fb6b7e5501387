// Vendors the npm packages the web client's encryption uses into
// web/static/vendor/, byte for byte as npm serves them, with a lock file.
//
//	node scripts/vendor-js.mjs          # rewrite web/static/vendor from npm
//
// Only the files the entry points below import (transitively) are copied,
// at vendor/<package>/<file>. One change is made to them: an import of
// another package ("@noble/hashes/sha2.js") becomes a relative path
// ("../hashes/sha2.js"), so browsers and Node load them with no import map
// (the page's Content-Security-Policy allows no inline script, and an
// import map is one). vendor/lock.json records each file's package,
// version, the SHA-256 npm's tarball has (npm_sha256) and the SHA-256 of
// the file as vendored, and each tarball's npm integrity; `go test ./web
// -run TestVendored` fails when a file differs from it. Running this
// script again and `git diff --exit-code web/static/vendor` shows the
// vendored tree is what npm serves.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const packages = {
  '@noble/hashes': '2.4.0',
  '@noble/curves': '2.4.0',
  '@noble/ciphers': '2.4.0',
  '@noble/post-quantum': '0.7.1',
};
// What web/static/e2e imports.
const entries = [
  '@noble/hashes/hkdf.js', '@noble/hashes/sha2.js', '@noble/hashes/sha3.js',
  '@noble/curves/ed25519.js', '@noble/ciphers/chacha.js', '@noble/post-quantum/hybrid.js',
];

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'web/static/vendor');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vendor-js-'));

// Unpack each tarball with npm pack, as any npm user would get it.
const dirs = {}, integrity = {};
for (const [name, version] of Object.entries(packages)) {
  const res = JSON.parse(execFileSync('npm', ['pack', '--json', `${name}@${version}`], { cwd: tmp }));
  const dir = path.join(tmp, name.replace('/', '+'));
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', path.join(tmp, res[0].filename), '-C', dir]);
  dirs[name] = path.join(dir, 'package');
  integrity[name] = res[0].integrity;
}

// Static imports only: lines that start with import or export ... from.
const importRe = /^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;

function locate(spec, fromFile) {
  if (spec.startsWith('.')) return path.resolve(path.dirname(fromFile), spec);
  const name = Object.keys(packages).find((p) => spec.startsWith(p + '/'));
  if (!name) throw new Error(`${fromFile}: import of ${spec}, not a vendored package`);
  return path.join(dirs[name], spec.slice(name.length + 1));
}

const seen = new Set();
const todo = entries.map((e) => locate(e, root));
while (todo.length) {
  const f = todo.pop();
  if (seen.has(f)) continue;
  seen.add(f);
  for (const m of fs.readFileSync(f, 'utf8').matchAll(importRe)) todo.push(locate(m[1] ?? m[2], f));
}

// relativeImports rewrites the imports of other vendored packages in the
// source of file (vendor-relative, "@noble/curves/ed25519.js") to relative paths.
function relativeImports(src, file) {
  return src.replace(importRe, (stmt, a, b) => {
    const spec = a ?? b;
    if (spec.startsWith('.')) return stmt;
    let rel = path.posix.relative(path.posix.dirname(file), spec);
    if (!rel.startsWith('.')) rel = './' + rel;
    return stmt.replace(spec, rel);
  });
}

fs.rmSync(out, { recursive: true, force: true });
const files = [];
for (const f of [...seen].sort()) {
  const name = Object.keys(dirs).find((p) => f.startsWith(dirs[p] + path.sep));
  const rel = path.relative(dirs[name], f);
  const dst = path.join(out, name, rel);
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  const orig = fs.readFileSync(f);
  const vendored = relativeImports(orig.toString('utf8'), `${name}/${rel}`);
  fs.writeFileSync(dst, vendored);
  files.push({ package: name, version: packages[name], file: `${name}/${rel}`,
    npm_sha256: createHash('sha256').update(orig).digest('hex'),
    sha256: createHash('sha256').update(vendored).digest('hex') });
}
for (const name of Object.keys(packages)) {
  fs.copyFileSync(path.join(dirs[name], 'LICENSE'), path.join(out, name, 'LICENSE'));
}
const lock = {
  comment: 'Written by `node scripts/vendor-js.mjs`; checked by `go test ./web -run TestVendored`.',
  packages: Object.entries(packages).map(([name, version]) => ({ name, version, integrity: integrity[name] })),
  files,
};
fs.writeFileSync(path.join(out, 'lock.json'), JSON.stringify(lock, null, 2) + '\n');
fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${files.length} files from ${Object.keys(packages).length} packages in ${path.relative(root, out)}`);
