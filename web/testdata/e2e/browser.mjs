// An encrypted direct conversation between this browser (Bob, signed up
// in the page) and the Go client (Alice, run by TestBrowser_E2E): the
// page creates the conversation, sends a text and a photo, and shows
// Alice's encrypted reply with its photo decrypted in the page.
//
// Lines for the Go test on stdout: "BOB <user ID>", "CONV <id>" once the
// browser's photo is sent, "SAFETY <60 digits>" as the page shows it once
// verified (the Go test then gives Alice a second device), "SAFETY2 <60
// digits>" once the page warned of Alice's changed keys.
// Env: COURIER_URL, COURIER_PHOTO, ALICE_ID.
import { run, signUp, shot, log, check } from '../lib.mjs';

const ALICE = process.env.ALICE_ID;
const PHOTO = process.env.COURIER_PHOTO;

await run(async (launch) => {
  const bob = await launch('bob');
  console.log(`BOB ${await signUp(bob, 'bob')}`);
  const p = bob.page;

  await p.click('#new-chat summary');
  await p.fill('#direct-user', ALICE);
  await p.fill('#direct-name', 'Alice (Go)');
  await p.check('#direct-encrypted');
  await p.click('#direct-form button');
  await p.waitForSelector('#conv-view:not([hidden])');
  const conv = await p.evaluate(() => location.hash.slice(1));
  log('bob created encrypted conversation', conv);

  // A text, then a photo (choosing a file sends it with the composer's text).
  await p.fill('#text', 'hello from the browser');
  await p.click('#send');
  await p.fill('#text', 'the sunset');
  await p.setInputFiles('#files', PHOTO);
  await p.waitForFunction(() => {
    const own = [...document.querySelectorAll('#messages li.msg.own')];
    return own.length === 2 && own.every((li) => li.dataset.seq !== '');
  }, null, { timeout: 60_000 });
  log('both sent');
  console.log(`CONV ${conv}`);

  // Alice's reply: text and a photo whose thumbnail the page decrypts.
  await p.waitForFunction(() => [...document.querySelectorAll('#messages li.msg.theirs .text')]
    .some((e) => e.textContent === 'hello from go'), null, { timeout: 60_000 });
  await p.waitForSelector('#messages li.msg.theirs .media.e2e[data-thumb="loaded"] img.thumb', { timeout: 60_000 });
  const thumb = await p.$eval('#messages li.msg.theirs .media.e2e img.thumb', (img) => [img.naturalWidth, img.naturalHeight]);
  check(Math.max(...thumb) === 320, `the reply's thumbnail is ${thumb}, want one fitted in 320`);
  // Our own photo shows from its encrypted thumbnail too.
  await p.waitForSelector('#messages li.msg.own .media.e2e[data-thumb="loaded"]', { timeout: 30_000 });
  const locked = await p.$$eval('#messages li.msg .locked', (l) => l.length);
  check(locked === 0, `${locked} messages still locked`);
  await shot(bob, 'e2e-conversation.png');

  // The whole photo, decrypted in the page.
  await p.click('#messages li.msg.theirs .media.e2e');
  await p.waitForFunction(() => document.querySelector('#viewer-body img')?.naturalWidth > 0);
  const full = await p.$eval('#viewer-body img', (img) => [img.naturalWidth, img.naturalHeight]);
  check(full[0] === 1200 && full[1] === 800, `the reply's photo is ${full}, want 1200x800`);
  await shot(bob, 'e2e-photo.png');
  await p.click('#viewer-close');

  // The safety number, for the Go test to compare with the Go client's;
  // Bob marks it verified.
  check(await p.isVisible('#conv-e2e'), 'the conversation is marked encrypted');
  const safety = async () => {
    await p.click('#conv-verify');
    return (await (await p.waitForSelector('#safety-number', { timeout: 60_000 })).textContent()).replace(/\s/g, '');
  };
  const n = await safety();
  await shot(bob, 'e2e-safety.png');
  await p.click('#safety-verify');
  await p.waitForSelector('#conv-trust[data-trust="verified"]', { timeout: 60_000 });
  console.log(`SAFETY ${n}`);

  // Alice gets a second device: her keys changed, the page warns until
  // Bob compares the new number and verifies again.
  await p.waitForSelector('#conv-trust[data-trust="changed"]', { timeout: 60_000 });
  await shot(bob, 'e2e-keys-changed.png');
  const n2 = await safety();
  check(n2 !== n, 'the safety number changed with Alice\'s new device');
  console.log(`SAFETY2 ${n2}`);
  await p.click('#safety-verify');
  await p.waitForSelector('#conv-trust[data-trust="verified"]', { timeout: 60_000 });
});
