// lib.mjs: what every browser scenario shares: Chromium through
// playwright-core (found in COURIER_NODE_MODULES, installed by
// scripts/services.sh), a fresh profile per browser, the page's console
// collected for the Go test to print when a scenario fails, screenshots
// into COURIER_ARTIFACTS, and the UI steps users take.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(join(process.env.COURIER_NODE_MODULES, 'x.js'));
const { chromium } = require('playwright-core');

export const BASE = process.env.COURIER_URL;
export const ARTIFACTS = process.env.COURIER_ARTIFACTS;
// Generous: `make test` runs packages side by side on a loaded machine.
export const TIMEOUT = 45_000;

export function log(...args) { console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...args); }

export function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

// launchBrowser starts Chromium once per scenario (Playwright gives it a
// fresh temporary profile); each user of the scenario is a context of it,
// with its own storage: IndexedDB and the service worker survive a reload
// within the context, as they do for a user, and nothing is shared.
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.COURIER_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function newUser(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 680 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  // Chromium's own messages name the WebSocket URL: tokens are masked.
  const mask = (s) => s.replace(/token=[^&\s'"]+/g, 'token=…');
  page.on('console', (m) => log(`${name} console.${m.type()}:`, mask(m.text())));
  page.on('pageerror', (e) => log(`${name} pageerror:`, mask(e.message)));
  page.on('requestfailed', (r) => log(`${name} requestfailed:`, r.method(), mask(r.url()), r.failure()?.errorText));
  return { name, context, page };
}

export async function shot(b, file) {
  const path = join(ARTIFACTS, file);
  await b.page.screenshot({ path });
  log('screenshot', path);
  return path;
}

// signUp opens the page and creates an account through the form; it
// answers the new user's ID as the page shows it.
export async function signUp(b, name) {
  await b.page.goto(BASE + '/');
  await b.page.fill('#signup-name', name);
  log(b.name, 'page loaded');
  await b.page.click('#signup-form button');
  await b.page.waitForSelector('#app:not([hidden])');
  log(b.name, 'account made');
  await b.page.waitForSelector('#conn[data-state="online"]');
  const id = (await b.page.textContent('#me-id')).trim();
  log(b.name, 'signed up as', name, id);
  return id;
}

export async function startDirect(b, userID, name) {
  await b.page.click('#new-chat summary');
  await b.page.fill('#direct-user', userID);
  await b.page.fill('#direct-name', name);
  await b.page.click('#direct-form button');
  await b.page.waitForSelector('#conv-view:not([hidden])');
  return b.page.evaluate(() => location.hash.slice(1));
}

export async function openConversation(b, convID) {
  await b.page.waitForSelector(`#conversations li[data-conv-id="${convID}"]`);
  await b.page.click(`#conversations li[data-conv-id="${convID}"] a`);
  await b.page.waitForSelector(`#conv-view[data-conv-id="${convID}"]:not([hidden])`);
}

export async function send(b, text) {
  await b.page.fill('#text', text);
  await b.page.click('#send');
}

// texts answers the open conversation's messages as the page shows them.
export function texts(b) {
  return b.page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({
    seq: li.dataset.seq, state: li.dataset.state, text: li.querySelector('.text')?.textContent || '',
  })));
}

// waitTexts waits until the open conversation shows exactly want, in order.
export async function waitTexts(b, want) {
  await b.page.waitForFunction((want) => {
    const got = [...document.querySelectorAll('#messages li.msg .text')].map((e) => e.textContent);
    return JSON.stringify(got) === JSON.stringify(want);
  }, want).catch(async (e) => {
    throw new Error(`${b.name}: messages ${JSON.stringify(await texts(b))}, want texts ${JSON.stringify(want)}: ${e.message}`);
  });
}

// tokenOf reads a user's device token from the page's IndexedDB, for
// the steps a scenario takes through the HTTP API as another client would.
export function tokenOf(u) {
  return u.page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('courier');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const get = open.result.transaction('settings').objectStore('settings').get('account');
      get.onsuccess = () => resolve(get.result.token);
    };
  }));
}

// sendHTTP posts a log entry (a message, or a reaction, edit or delete
// with kind and target_seq) through the HTTP API and answers its seq.
export async function sendHTTP(token, conv, data) {
  const body = data.text != null ? Buffer.from(data.text).toString('base64') : undefined;
  const resp = await fetch(`${BASE}/v1/conversations/${conv}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    body: JSON.stringify({ client_id: crypto.randomUUID(), body, kind: data.kind, target_seq: data.target_seq }),
  });
  const out = await resp.json();
  check(resp.status === 201, `send ${JSON.stringify(data)}: ${resp.status} ${JSON.stringify(out)}`);
  return out.seq;
}

// run runs a scenario and exits non-zero with the error when it throws;
// it screenshots every user's page then.
export async function run(fn) {
  const users = [];
  let browser;
  try {
    browser = await launchBrowser();
    log('chromium', browser.version());
    await fn(async (name) => { const u = await newUser(browser, name); users.push(u); return u; });
    log('PASS');
  } catch (e) {
    log('FAIL', e.stack || e);
    for (const u of users) await shot(u, `FAILED-${u.name}.png`).catch(() => {});
    process.exitCode = 1;
  } finally {
    await browser?.close().catch(() => {});
  }
}
