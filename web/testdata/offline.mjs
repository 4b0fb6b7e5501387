// offline.mjs: Ada goes offline (context.setOffline), writes, reloads
// while offline and still has everything (the service worker serves the
// page, IndexedDB the messages and the outbox), comes back, and Bob
// receives her messages in order; both sides order by seq, so a message
// Bob sent while she was away sits between hers where the server put it.
import { BASE, run, signUp, startDirect, openConversation, send, waitTexts, shot, check, log } from './lib.mjs';

await run(async (launch) => {
  const ada = await launch('ada');
  const bob = await launch('bob');
  await signUp(ada, 'Ada');
  const bobID = await signUp(bob, 'Bob');
  const conv = await startDirect(ada, bobID, 'Bob');
  await send(ada, 'one');
  await openConversation(bob, conv);
  await waitTexts(bob, ['one']);
  // The service worker controls the page once it activated.
  await ada.page.waitForFunction(() => navigator.serviceWorker.controller != null);

  await ada.context.setOffline(true);
  await ada.page.waitForSelector('#conn[data-state="offline"]');
  await send(ada, 'two');
  await send(ada, 'three');
  await ada.page.waitForSelector('#messages li.msg.own[data-state="pending"] >> text=three');
  await send(bob, 'four, from Bob');
  await waitTexts(bob, ['one', 'four, from Bob']);

  // A reload while offline keeps everything, pending messages included.
  await ada.page.reload();
  await ada.page.waitForSelector(`#conv-view[data-conv-id="${conv}"]`);
  await waitTexts(ada, ['one', 'two', 'three']);
  // The network is really gone for the page, and the service worker
  // served the reload.
  const probe = await ada.page.evaluate(() => fetch('/v1/devices').then(() => 'reached', () => 'failed'));
  check(probe === 'failed', `the API was ${probe} while offline`);
  const controlled = await ada.page.evaluate(() => navigator.serviceWorker.controller != null);
  check(controlled, 'the offline reload was not served by the service worker');
  const pending = await ada.page.$$eval('#messages li.msg.own[data-state="pending"]', (l) => l.length);
  check(pending === 2, `${pending} pending after an offline reload, want 2`);
  await shot(ada, 'offline-reloaded.png');
  await new Promise((r) => setTimeout(r, 1000));
  const bobSees = await bob.page.$$eval('#messages li.msg .text', (l) => l.map((e) => e.textContent));
  check(!bobSees.includes('two'), `Bob got "two" while Ada was offline: ${bobSees}`);

  await ada.context.setOffline(false);
  await ada.page.waitForSelector('#conn[data-state="online"]');
  await waitTexts(bob, ['one', 'four, from Bob', 'two', 'three']);
  await waitTexts(ada, ['one', 'four, from Bob', 'two', 'three']);
  const seqs = await bob.page.$$eval('#messages li.msg', (l) => l.map((li) => li.dataset.seq));
  check(JSON.stringify(seqs) === '["1","2","3","4"]', `Bob's seqs ${seqs}`);
  await ada.page.waitForSelector('#messages li.msg.own[data-seq="4"][data-state="read"]');

  // Bob reloads while offline too: the page and the history are there.
  await bob.context.setOffline(true);
  await bob.page.reload();
  await waitTexts(bob, ['one', 'four, from Bob', 'two', 'three']);
  await bob.context.setOffline(false);
  await bob.page.waitForSelector('#conn[data-state="online"]');
  await shot(ada, 'offline-back.png');

  // Bob's second device signs in with a pasted token: it syncs the whole
  // history in order, and knows Bob's own messages as his.
  const bobToken = await bob.page.evaluate(() => new Promise((resolve, reject) => {
    const open = indexedDB.open('courier');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const get = open.result.transaction('settings').objectStore('settings').get('account');
      get.onsuccess = () => resolve(get.result.token);
    };
  }));
  const resp = await fetch(BASE + '/v1/devices', {
    method: 'POST', headers: { Authorization: `Bearer ${bobToken}` }, body: JSON.stringify({ name: 'laptop' }),
  });
  check(resp.status === 201, `POST /v1/devices: ${resp.status}`);
  const laptop = await launch('bob-laptop');
  await laptop.page.goto(BASE + '/');
  await laptop.page.fill('#token-input', (await resp.json()).token);
  await laptop.page.fill('#token-name', 'Bob');
  await laptop.page.click('#token-form button');
  await laptop.page.waitForSelector('#conn[data-state="online"]');
  await openConversation(laptop, conv);
  await waitTexts(laptop, ['one', 'four, from Bob', 'two', 'three']);
  const own = await laptop.page.$$eval('#messages li.msg.own .text', (l) => l.map((e) => e.textContent));
  check(JSON.stringify(own) === '["four, from Bob"]', `the laptop's own messages ${own}`);
  log('offline ok');
});
